"""The classroom JupyterLite kiosk.

Serves a prebuilt JupyterLite bundle, relays share links on an SQLite store, syncs
with a cloud sharing service when online, and announces itself on the LAN.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
