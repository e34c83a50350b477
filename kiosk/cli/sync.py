"""``kiosk sync status|now``: the upstream sync, from a shell on the kiosk.

``status`` asks the running kiosk (its ``/api/kiosk/status``) and, when none answers,
reads the outbox in the data directory. ``now`` asks the running kiosk to forget its
backoffs and start a round (``POST /api/admin/sync/now`` with the admin secret).
Credentials are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import gettext
import json
import sys
import time
from typing import Any

import aiohttp

from kiosk.cli.messages import aligned, known, translations
from kiosk.config import KioskConfig
from kiosk.errors import KioskError
from kiosk.i18n import N_
from kiosk.secrets import admin_secret_path, load_or_create_secret

# Where the status comes from (the JSON keeps these English words; the text translates).
FROM_KIOSK = N_("running kiosk")
FROM_STORE = N_("share store (no kiosk answered)")


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
                return {"source": FROM_KIOSK, **sync}
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
    return {"source": FROM_STORE, "enabled": enabled,
            "queued": counts.queued, "due": counts.due, "failing": counts.failing,
            "oldest_queued_at": counts.oldest_enqueued_at, "synced": counts.synced,
            "possible_duplicates": counts.possible_duplicates, "refused": counts.refused,
            "privacy_notice": JE_PRIVACY_NOTICE if enabled and config.upstream_kind != "kiosk"
            else None, "take_home_site": site,
            "site_notice": site_notice(base) if enabled and site is None and kind == "je"
            else None}


def _when(ts: Any, t: gettext.NullTranslations) -> str:
    if not isinstance(ts, int | float):
        return t.gettext("never")
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))}"


def run_status(args: argparse.Namespace, config: KioskConfig) -> int:
    status = asyncio.run(_live_status(config)) or asyncio.run(_stored_status(config))
    if args.json:
        print(json.dumps(status))
        return 0
    t = translations(config)
    label = {"sync": t.gettext("sync:"), "upstream": t.gettext("upstream:"),
             "reachable": t.gettext("reachable:"), "queued": t.gettext("queued:"),
             "synced": t.gettext("synced shares:"), "refused": t.gettext("refused:"),
             "success": t.gettext("last success:"), "error": t.gettext("last error:"),
             "home": t.gettext("take-home:"), "privacy": t.gettext("privacy:")}
    on = t.gettext("on") if status.get("enabled") else t.gettext("off")
    rows = [(label["sync"], f"{on} ({known(t, status['source'])})")]
    if status.get("upstream"):
        kind = status.get("kind") or t.gettext("kind unknown")
        rows.append((label["upstream"], f"{status['upstream']} ({kind})"))
    if "reachable" in status:
        reach = status["reachable"]
        rows.append((label["reachable"], t.gettext("unknown") if reach is None
                     else t.gettext("yes") if reach else t.gettext("no")))
    rows.append((label["queued"], t.gettext("%(queued)d (in flight %(flight)d, failing "
                                            "%(failing)d)")
                 % {"queued": status.get("queued", 0), "flight": status.get("in_flight", 0),
                    "failing": status.get("failing", 0)}))
    rows.append((label["synced"], t.gettext("%(synced)d; possible duplicates upstream: "
                                            "%(duplicates)d")
                 % {"synced": status.get("synced", 0),
                    "duplicates": status.get("possible_duplicates", 0)}))
    if status.get("refused"):
        refused = int(status["refused"])
        rows.append((label["refused"], t.ngettext(
            "%(n)d share the upstream will not take (retried when it changes, or with "
            "'kiosk sync now')",
            "%(n)d shares the upstream will not take (retried when they change, or with "
            "'kiosk sync now')", refused) % {"n": refused}))
    if "last_success_at" in status:
        rows.append((label["success"], _when(status.get("last_success_at"), t)))
        error = status.get("last_error")
        rows.append((label["error"], f"{error} ({_when(status.get('last_error_at'), t)})"
                     if error else t.gettext("none")))
    if status.get("take_home_site"):
        rows.append((label["home"], f"{status['take_home_site']}/lab/index.html?notebook=<code>"))
    if status.get("site_notice"):
        rows.append((label["home"], status["site_notice"]))
    if status.get("privacy_notice"):
        rows.append((label["privacy"], status["privacy_notice"]))
    print("\n".join(aligned(rows, list(label.values()))))
    return 0


async def _post_now(config: KioskConfig, secret: str,
                    t: gettext.NullTranslations) -> dict[str, Any]:
    url = f"{_base(config)}/api/admin/sync/now"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
                http.post(url, headers={"Authorization": f"Bearer {secret}"},
                          ssl=False) as resp:
            if resp.status != 202:
                raise KioskError(t.gettext("the kiosk answered %(status)d to 'sync now'")
                                 % {"status": resp.status})
            answer: dict[str, Any] = await resp.json()
            return answer
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise KioskError(t.gettext("no kiosk answers on %(url)s (%(error)s); is it running, "
                                   "with this --port?")
                         % {"url": _base(config), "error": type(exc).__name__}) from None


def run_now(args: argparse.Namespace, config: KioskConfig) -> int:
    secret = load_or_create_secret(admin_secret_path(config.data_path))
    t = translations(config)
    answer = asyncio.run(_post_now(config, secret, t))
    if not answer.get("started"):
        print(t.gettext("sync is off on this kiosk (set upstream_url and sync_enabled)"),
              file=sys.stderr)
        return 1
    queued = int(answer["sync"].get("queued", 0))
    print(t.ngettext("sync round started; %(n)d share queued",
                     "sync round started; %(n)d shares queued", queued) % {"n": queued})
    return 0
