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
from kiosk.cli.messages import aligned, known, translations
from kiosk.config import KioskConfig
from kiosk.errors import BundleError
from kiosk.i18n import N_

NO_BUNDLE = N_("no bundle is active: run 'make bundle'")


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
            problem = NO_BUNDLE
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
    t = translations(config)
    print(t.gettext("kiosk %(version)s · name %(name)s")
          % {"version": info["kiosk"], "name": info["name"]})
    labels = {"listen": t.gettext("listens on"), "data": t.gettext("data dir"),
              "bundles": t.gettext("bundles dir"), "bundle": t.gettext("bundle"),
              "versions": t.gettext("versions")}
    running = t.gettext("running") if info["running"] else t.gettext("not running")
    rows = [(labels["listen"], f"{info['listen']} ({running})"),
            (labels["data"], info["data_dir"]), (labels["bundles"], info["bundles_dir"])]
    if info["bundle"]:
        b = info["bundle"]
        versions = ", ".join(f"{k} {v}" for k, v in b["versions"].items()
                             if isinstance(v, str))
        rows.append((labels["bundle"], t.gettext("%(name)s (profile %(profile)s, built "
                                                 "%(built)s)")
                     % {"name": b["name"], "profile": b["profile"], "built": b["built_at"]}))
        if versions:
            rows.append((labels["versions"], versions))
    else:
        # --json keeps the English problem; a known one is translated here.
        rows.append((labels["bundle"], t.gettext("none: %(problem)s")
                     % {"problem": known(t, info["bundle_problem"])}))
    print("\n".join(aligned(rows, list(labels.values()), gap=2)))
    return 0
