"""``kiosk status``: what is served, where, and which versions."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import aiohttp

from kiosk import __version__
from kiosk.bundle.active import current_bundle
from kiosk.bundle.manifest import read_manifest
from kiosk.bundle.served import bundles_dir_for
from kiosk.config import KioskConfig
from kiosk.errors import BundleError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("status", parents=[common], help="what is served, where, versions",
                            description="Show the configuration, the active bundle and "
                            "whether a kiosk answers on the configured port.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


async def _probe(port: int, scheme: str) -> dict[str, Any] | None:
    url = f"{scheme}://127.0.0.1:{port}/api/kiosk/status"
    try:
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.get(url, ssl=False) as resp:
            if resp.status == 200:
                data: dict[str, Any] = await resp.json()
                return data
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    return None


def gather(config: KioskConfig) -> dict[str, Any]:
    bundle: dict[str, Any] | None = None
    problem: str | None = None
    bundles_dir = bundles_dir_for(config)
    try:
        active = current_bundle(bundles_dir)
        if active is not None:
            manifest = read_manifest(active)
            bundle = {"name": active.name, "path": str(active), "profile": manifest.profile,
                      "built_at": manifest.built_at, "versions": manifest.versions}
        else:
            problem = "no bundle is active: run 'make bundle'"
    except BundleError as exc:
        problem = exc.message
    scheme = "https" if config.tls_cert else "http"
    running = asyncio.run(_probe(config.port, scheme)) if config.port else None
    return {"kiosk": __version__, "name": config.name,
            "listen": f"{scheme}://{config.host}:{config.port}",
            "data_dir": str(config.data_path), "bundles_dir": str(bundles_dir),
            "bundle": bundle, "bundle_problem": problem,
            "running": running is not None, "live": running}


def run(args: argparse.Namespace, config: KioskConfig) -> int:
    info = gather(config)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"kiosk {info['kiosk']} · name {info['name']}")
    print(f"listens on   {info['listen']} ({'running' if info['running'] else 'not running'})")
    print(f"data dir     {info['data_dir']}")
    print(f"bundles dir  {info['bundles_dir']}")
    if info["bundle"]:
        b = info["bundle"]
        versions = ", ".join(f"{k} {v}" for k, v in b["versions"].items()
                             if isinstance(v, str))
        print(f"bundle       {b['name']} (profile {b['profile']}, built {b['built_at']})")
        if versions:
            print(f"versions     {versions}")
    else:
        print(f"bundle       none: {info['bundle_problem']}")
    return 0
