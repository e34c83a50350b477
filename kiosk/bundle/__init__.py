"""Bundles: build, verify, list and activate prebuilt JupyterLite sites.

Leaf package: no aiohttp.web here. The server reads bundles through
:mod:`kiosk.bundle.manifest` and :mod:`kiosk.bundle.active`.
"""
