"""Where take-home links point: the upstream's public site, which is not always its API.

A take-home link opens a synced copy in the upstream's JupyterLite, the way that site
builds its own share links: ``<site>/lab/index.html?notebook=<readable id>``
(:func:`kiosk.sharing.view.upstream_lab_url`). Which site:

* ``upstream_site_url`` when the teacher set it (for the configured upstream);
* the public Jupyter Everywhere service: its site, :data:`JE_SITE_URL`. Its frontend
  (JupyterEverywhere/jupyterlite-extension, deployed there) talks to the API at
  :data:`JE_API_ORIGIN`, a different origin, so the API's origin would be a wrong link;
* a kiosk hub: the API's own origin (a kiosk serves its JupyterLite there);
* a Jupyter Everywhere service at any other address (self-hosted): **unknown**. Its site
  can be anywhere; rather than build a wrong link, there is none until the teacher sets
  ``upstream_site_url``, and the sync status (dashboard, ``kiosk sync status``) says so.
"""

from __future__ import annotations

from urllib.parse import urlsplit

JE_API_ORIGIN = "https://jupytereverywhere.coursekata.org"
JE_SITE_URL = "https://jupytereverywhere.org"
# API origin -> public site of the services whose site is known.
KNOWN_SITES = {JE_API_ORIGIN: JE_SITE_URL}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lowercased, without a default port or user part."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    shown = "" if port is None or port == _DEFAULT_PORTS.get(scheme) else f":{port}"
    return f"{scheme}://{host}{shown}"


def take_home_site(api_base: str, kind: str | None, configured: str | None) -> str | None:
    """The public site of copies on ``api_base`` (an upstream's API base URL).

    ``kind``: the link's (or the upstream's) ``"je"`` or ``"kiosk"``, None while unknown;
    ``configured``: ``upstream_site_url`` when it applies to ``api_base``. None: unknown
    (a self-hosted JE service without ``upstream_site_url``, or an upstream of unknown kind).
    """
    if configured:
        return configured.rstrip("/")
    known = KNOWN_SITES.get(origin(api_base))
    if known is not None:
        return known
    if kind == "kiosk":
        return api_base.split("/api/", 1)[0].rstrip("/")
    return None


def site_notice(api_base: str) -> str:
    """What the teacher reads when the take-home site of a JE upstream is unknown."""
    return (f"Take-home links are not shown: {origin(api_base)} is not the public Jupyter "
            "Everywhere service, so the site that opens its notebooks is unknown. Set "
            "upstream_site_url to that site (the address students open, e.g. "
            "https://notebooks.example.org).")
