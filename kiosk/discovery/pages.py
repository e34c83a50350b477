"""How students arrive: ``/join`` for the projector and an A4 poster to print.

Routes:

* ``GET /join`` — full screen: a huge QR code of the kiosk's URL, the URL in large
  type and, when ``wifi_ssid`` is set, a Wi-Fi QR code (``WIFI:T:WPA;S:…;P:…;;``)
  beside it. Its inline script (allowed by its hash) polls ``/join.json`` and reloads
  on a change of URL.
* ``GET /join.json`` — ``{"url", "local_url", "name", "wifi_ssid"}``.
* ``GET /join/poster.svg`` — A4 portrait, printable: the same codes, the URL, the
  Wi-Fi details and short instructions.

Every QR code holds :func:`kiosk.urls.viewer_url`: an IP-literal URL of the
interface the viewer reached the kiosk through, never a ``.local`` name.
"""

from __future__ import annotations

from aiohttp import web

from kiosk import i18n
from kiosk.config import KioskConfig
from kiosk.discovery.keys import DISCOVERY_STATUS
from kiosk.keys import CONFIG, RUNTIME
from kiosk.qr import qr_svg, qr_svg_group, wifi_payload
from kiosk.templating import TEMPLATES, Markup, Templates, html_response
from kiosk.urls import viewer_url

_NO_CACHE = {"Cache-Control": "no-cache"}


def local_url(request: web.Request) -> str | None:
    """``http://kiosk.local:8000/`` once announced, else None (never put in a QR code)."""
    status = request.config_dict.get(DISCOVERY_STATUS)
    runtime = request.config_dict.get(RUNTIME)
    if status is None or status.host_name is None or runtime is None or runtime.port is None:
        return None
    port = runtime.port
    default = (runtime.scheme, port) in {("http", 80), ("https", 443)}
    return f"{runtime.scheme}://{status.host_name}{'' if default else f':{port}'}/"


def render_join(request: web.Request) -> web.Response:
    """The projector page (template ``join.html``); its polling script is inline."""
    config: KioskConfig = request.app[CONFIG]
    url = viewer_url(request)
    wifi_qr = None
    if config.wifi_ssid:
        payload = wifi_payload(config.wifi_ssid, config.wifi_password)
        wifi_qr = Markup(qr_svg(payload, title=f"Wi-Fi QR code for {config.wifi_ssid}"))
    return html_response(
        request, "join.html", headers=_NO_CACHE, connect=True, forms=False,
        name=config.name, url=url, main_qr=Markup(qr_svg(url, title=f"QR code for {url}")),
        local_url=local_url(request), wifi_qr=wifi_qr, wifi_ssid=config.wifi_ssid,
        wifi_password=config.wifi_password)


def render_poster(templates: Templates, *, name: str, url: str, ssid: str | None,
                  password: str | None, language: str = i18n.SOURCE_LANGUAGE) -> str:
    """The A4 poster as an SVG document (template ``poster.svg``; units are mm)."""
    url_size = min(9.0, 186 / (0.62 * max(len(url), 1)))
    wifi_qr = (Markup(qr_svg_group(wifi_payload(ssid, password), x=72.5, y=52, size=65))
               if ssid else None)
    url_qr = (qr_svg_group(url, x=57.5, y=152, size=95) if ssid
              else qr_svg_group(url, x=35, y=58, size=140))
    return templates.render("poster.svg", language=language, name=name, url=url, ssid=ssid,
                            password=password, url_size=url_size, wifi_qr=wifi_qr,
                            url_qr=Markup(url_qr), rtl=i18n.direction(language) == "rtl")


async def join_page(request: web.Request) -> web.Response:
    """GET /join: the projector page."""
    return render_join(request)


async def join_json(request: web.Request) -> web.Response:
    """GET /join.json: what /join shows, for its polling script."""
    config = request.app[CONFIG]
    return web.json_response({"url": viewer_url(request), "local_url": local_url(request),
                              "name": config.name, "wifi_ssid": config.wifi_ssid},
                             headers=_NO_CACHE)


async def join_poster(request: web.Request) -> web.Response:
    """GET /join/poster.svg: the printable A4 poster."""
    config = request.app[CONFIG]
    svg = render_poster(request.app[TEMPLATES], name=config.name, url=viewer_url(request),
                        ssid=config.wifi_ssid, password=config.wifi_password,
                        language=i18n.request_language(request))
    return web.Response(text=svg, content_type="image/svg+xml", headers=_NO_CACHE)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/join", join_page, name="join")
    app.router.add_get("/join.json", join_json, name="join_json")
    app.router.add_get("/join/poster.svg", join_poster, name="join_poster")
