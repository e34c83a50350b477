"""How students arrive: ``/join`` for the projector and an A4 poster to print.

Routes:

* ``GET /join`` — full screen: a huge QR code of the kiosk's URL, the URL in large
  type and, when ``wifi_ssid`` is set, a Wi-Fi QR code (``WIFI:T:WPA;S:…;P:…;;``)
  beside it. ``/join/join.js`` polls ``/join.json`` and reloads on a change of URL.
* ``GET /join.json`` — ``{"url", "local_url", "name", "wifi_ssid"}``.
* ``GET /join/poster.svg`` — A4 portrait, printable: the same codes, the URL, the
  Wi-Fi details and short instructions.

Every QR code holds :func:`kiosk.urls.viewer_url`: an IP-literal URL of the
interface the viewer reached the kiosk through, never a ``.local`` name.
"""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.discovery.keys import DISCOVERY_STATUS
from kiosk.keys import CONFIG, RUNTIME
from kiosk.middleware import kiosk_page_csp
from kiosk.qr import qr_svg, qr_svg_group, wifi_payload
from kiosk.urls import viewer_url

_STATIC = Path(__file__).parent / "static"
_NO_CACHE = {"Cache-Control": "no-cache"}

JOIN_STYLE = """
html,body{margin:0;height:100%;background:#fff;color:#111}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;display:flex;
align-items:center;justify-content:center}
main{display:flex;gap:3vw;align-items:center;justify-content:center;width:100%;
padding:2vh 2vw;box-sizing:border-box}
.main-qr svg{display:block;width:min(80vh,46vw);height:min(80vh,46vw);background:#fff}
.side{display:flex;flex-direction:column;gap:2vh;max-width:50vw}
h1{font-size:min(6vh,3.4vw);margin:0;font-weight:700}
.side p{margin:0}
.hint{font-size:min(3.4vh,2vw)}
.url{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:min(7vh,3.2vw);
font-weight:700;overflow-wrap:anywhere}
.local{font-size:min(3vh,1.8vw);color:#333}
.wifi{display:flex;gap:2vw;align-items:center;border-bottom:.4vh solid #ddd;
padding-bottom:2vh}
.wifi svg{display:block;width:min(30vh,17vw);height:min(30vh,17vw);background:#fff}
.wifi p{font-size:min(3.4vh,2vw);margin:.3em 0}
.wifi .step{font-weight:700}
.wifi strong{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
"""


def local_url(request: web.Request) -> str | None:
    """``http://kiosk.local:8000/`` once announced, else None (never put in a QR code)."""
    status = request.config_dict.get(DISCOVERY_STATUS)
    runtime = request.config_dict.get(RUNTIME)
    if status is None or status.host_name is None or runtime is None or runtime.port is None:
        return None
    port = runtime.port
    default = (runtime.scheme, port) in {("http", 80), ("https", 443)}
    return f"{runtime.scheme}://{status.host_name}{'' if default else f':{port}'}/"


def render_join(request: web.Request) -> str:
    config: KioskConfig = request.app[CONFIG]
    url = viewer_url(request)
    name = html.escape(config.name)
    main_qr = qr_svg(url, title=f"QR code for {url}")
    local = local_url(request)
    local_line = (f'<p class="local">Laptops can also use {html.escape(local)}</p>'
                  if local else "")
    wifi = ""
    if config.wifi_ssid:
        payload = wifi_payload(config.wifi_ssid, config.wifi_password)
        wifi_qr = qr_svg(payload, title=f"Wi-Fi QR code for {config.wifi_ssid}")
        password = (f"<p>Password: <strong>{html.escape(config.wifi_password)}</strong></p>"
                    if config.wifi_password else "<p>No password</p>")
        wifi = (f'<div class="wifi">{wifi_qr}<div><p class="step">1. Join the Wi-Fi</p>'
                f"<p><strong>{html.escape(config.wifi_ssid)}</strong></p>{password}</div></div>")
    step = "2. " if wifi else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Join {name}</title><style>{JOIN_STYLE}</style>
<script src="/join/join.js" defer></script></head>
<body data-url="{html.escape(url)}"><main>
<div class="main-qr">{main_qr}</div>
<div class="side">{wifi}<h1>{step}Scan the big code to start Python</h1>
<p class="hint">or type this address in a browser:</p>
<p class="url" id="url">{html.escape(url)}</p>{local_line}</div>
</main></body></html>"""


def _text(x: float, y: float, size: float, text: str, *, weight: str = "normal",
          mono: bool = False) -> str:
    family = "DejaVu Sans Mono,monospace" if mono else "DejaVu Sans,Arial,sans-serif"
    return (f'<text x="{x}" y="{y}" font-size="{size:.2f}" font-weight="{weight}" '
            f'font-family="{family}" text-anchor="middle">{html.escape(text)}</text>')


def render_poster(*, name: str, url: str, ssid: str | None, password: str | None) -> str:
    """The A4 poster as an SVG document (pure; units are millimetres)."""
    parts = [_text(105, 24, 11, "Python in your browser", weight="bold"),
             _text(105, 34, 6, f"Kiosk: {name}")]
    url_size = min(9.0, 186 / (0.62 * max(len(url), 1)))
    if ssid:
        parts.append(_text(105, 48, 6.5, "1. Join the Wi-Fi", weight="bold"))
        parts.append(qr_svg_group(wifi_payload(ssid, password), x=72.5, y=52, size=65))
        parts.append(_text(105, 124, 5.5, f"Network: {ssid}", mono=True))
        parts.append(_text(105, 132, 5.5, f"Password: {password}" if password
                           else "No password", mono=True))
        parts.append(_text(105, 148, 6.5, "2. Scan this code, or type the address",
                           weight="bold"))
        parts.append(qr_svg_group(url, x=57.5, y=152, size=95))
        parts.append(_text(105, 262, url_size, url, weight="bold", mono=True))
    else:
        parts.append(_text(105, 52, 6.5, "Scan this code, or type the address",
                           weight="bold"))
        parts.append(qr_svg_group(url, x=35, y=58, size=140))
        parts.append(_text(105, 214, url_size, url, weight="bold", mono=True))
    parts.append(_text(105, 278, 4.2, "No internet needed. Your work stays in your browser:"))
    parts.append(_text(105, 285, 4.2, "use Share in the notebook to keep a copy on the kiosk."))
    body = "\n".join(parts)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" '
        'viewBox="0 0 210 297">\n'
        f"<title>Join {html.escape(name)}</title>\n"
        '<rect width="210" height="297" fill="#fff"/>\n'
        f"{body}\n</svg>\n"
    )


async def join_page(request: web.Request) -> web.Response:
    """GET /join: the projector page."""
    return web.Response(text=render_join(request), content_type="text/html", headers={
        **_NO_CACHE, "Content-Security-Policy": kiosk_page_csp(request, "/join/join.js")})


async def join_json(request: web.Request) -> web.Response:
    """GET /join.json: what /join shows, for its polling script."""
    config = request.app[CONFIG]
    return web.json_response({"url": viewer_url(request), "local_url": local_url(request),
                              "name": config.name, "wifi_ssid": config.wifi_ssid},
                             headers=_NO_CACHE)


async def join_poster(request: web.Request) -> web.Response:
    """GET /join/poster.svg: the printable A4 poster."""
    config = request.app[CONFIG]
    svg = render_poster(name=config.name, url=viewer_url(request), ssid=config.wifi_ssid,
                        password=config.wifi_password)
    return web.Response(text=svg, content_type="image/svg+xml", headers=_NO_CACHE)


async def join_script(request: web.Request) -> web.FileResponse:
    """GET /join/join.js."""
    return web.FileResponse(_STATIC / "join.js", headers=_NO_CACHE)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/join", join_page, name="join")
    app.router.add_get("/join.json", join_json, name="join_json")
    app.router.add_get("/join/poster.svg", join_poster, name="join_poster")
    app.router.add_get("/join/join.js", join_script, name="join_script")
