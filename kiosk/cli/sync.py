"""``kiosk sync status|now``: the upstream sync, from a shell on the kiosk.

``status`` asks the running kiosk (its ``/api/kiosk/status``) and, when none answers,
reads the outbox in the data directory. ``now`` asks the running kiosk to forget its
backoffs and start a round (``POST /api/admin/sync/now`` with the admin secret).
Credentials are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from kiosk.config import KioskConfig
from kiosk.errors import KioskError
from kiosk.secrets import admin_secret_path, load_or_create_secret


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("sync", help="status of the upstream sync; sync now",
                            description="Forwarding of shares to the upstream sharing API.")
    commands = parser.add_subparsers(dest="sync_command", metavar="ACTION", required=True)
    status = commands.add_parser("status", parents=[common], help="queued, in flight, last "
                                 "success, last error, upstream reachable")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=run_status)
    now = commands.add_parser("now", parents=[common], help="start a sync round now")
    now.set_defaults(func=run_now)


def _base(config: KioskConfig) -> str:
    scheme = "https" if config.tls_cert else "http"
    return f"{scheme}://127.0.0.1:{config.port}"


async def _live_status(config: KioskConfig) -> dict[str, Any] | None:
    if not config.port:
        return None
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http, \
                http.get(f"{_base(config)}/api/kiosk/status", ssl=False) as resp:
            if resp.status == 200:
                sync: dict[str, Any] = (await resp.json()).get("sync", {})
                return {"source": "running kiosk", **sync}
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    return None


async def _stored_status(config: KioskConfig) -> dict[str, Any]:
    from kiosk.sharing.store import ShareStore
    from kiosk.sync import outbox

    base = (config.upstream_url or "").rstrip("/")
    store = ShareStore.in_data_dir(config.data_path)
    outbox.attach(store, queue_writes=False)
    await store.start()
    try:
        counts = await store.execute_read(outbox.counts)
        # The kind as configured; with "auto", the kind its copies were made for.
        kind = None if config.upstream_kind == "auto" else config.upstream_kind
        if kind is None and base:
            kind = await store.execute_read(lambda c: outbox.kind_of(c, base))
    finally:
        await store.close()
    from kiosk.sync.site import site_notice, take_home_site
    from kiosk.sync.worker import JE_PRIVACY_NOTICE

    enabled = bool(config.sync_enabled and config.upstream_url)
    site = take_home_site(base, kind, config.upstream_site_url) if base else None
    return {"source": "share store (no kiosk answered)", "enabled": enabled,
            "queued": counts.queued, "due": counts.due, "failing": counts.failing,
            "oldest_queued_at": counts.oldest_enqueued_at, "synced": counts.synced,
            "possible_duplicates": counts.possible_duplicates, "refused": counts.refused,
            "privacy_notice": JE_PRIVACY_NOTICE if enabled and config.upstream_kind != "kiosk"
            else None, "take_home_site": site,
            "site_notice": site_notice(base) if enabled and site is None and kind == "je"
            else None}


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "never"
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))}"


def run_status(args: argparse.Namespace, config: KioskConfig) -> int:
    status = asyncio.run(_live_status(config)) or asyncio.run(_stored_status(config))
    if args.json:
        print(json.dumps(status))
        return 0
    print(f"sync:          {'on' if status.get('enabled') else 'off'} ({status['source']})")
    if status.get("upstream"):
        print(f"upstream:      {status['upstream']} ({status.get('kind') or 'kind unknown'})")
    if "reachable" in status:
        reach = status["reachable"]
        print(f"reachable:     {'unknown' if reach is None else 'yes' if reach else 'no'}")
    print(f"queued:        {status.get('queued', 0)} (in flight {status.get('in_flight', 0)},"
          f" failing {status.get('failing', 0)})")
    print(f"synced shares: {status.get('synced', 0)}; possible duplicates upstream: "
          f"{status.get('possible_duplicates', 0)}")
    if status.get("refused"):
        print(f"refused:       {status['refused']} share(s) the upstream will not take "
              "(retried when they change, or with 'kiosk sync now')")
    if "last_success_at" in status:
        print(f"last success:  {_when(status.get('last_success_at'))}")
        print(f"last error:    {status.get('last_error') or 'none'}"
              + (f" ({_when(status.get('last_error_at'))})" if status.get("last_error") else ""))
    if status.get("take_home_site"):
        print(f"take-home:     {status['take_home_site']}/lab/index.html?notebook=<code>")
    if status.get("site_notice"):
        print(f"take-home:     {status['site_notice']}")
    if status.get("privacy_notice"):
        print(f"privacy:       {status['privacy_notice']}")
    return 0


async def _post_now(config: KioskConfig, secret: str) -> dict[str, Any]:
    url = f"{_base(config)}/api/admin/sync/now"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
                http.post(url, headers={"Authorization": f"Bearer {secret}"},
                          ssl=False) as resp:
            if resp.status != 202:
                raise KioskError(f"the kiosk answered {resp.status} to 'sync now'")
            answer: dict[str, Any] = await resp.json()
            return answer
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise KioskError(f"no kiosk answers on {_base(config)} ({type(exc).__name__}); "
                         "is it running, with this --port?") from None


def run_now(args: argparse.Namespace, config: KioskConfig) -> int:
    secret = load_or_create_secret(admin_secret_path(config.data_path))
    answer = asyncio.run(_post_now(config, secret))
    if not answer.get("started"):
        print("sync is off on this kiosk (set upstream_url and sync_enabled)", file=sys.stderr)
        return 1
    print(f"sync round started; {answer['sync'].get('queued', 0)} share(s) queued")
    return 0
