"""Downloads for notebooks: same-origin, guarded against local addresses, cached offline."""

from kiosk.downloads.web import DOWNLOADER, make_downloader
from kiosk.downloads.web import setup_downloads as setup

__all__ = ["DOWNLOADER", "make_downloader", "setup"]
