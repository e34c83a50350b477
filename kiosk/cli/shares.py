"""``kiosk shares list|delete|clear``: the teacher's share management from a shell.

Works directly on the share store in the data directory, also while the kiosk runs
(SQLite's WAL and busy timeout let both use the file).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from typing import Any

from kiosk.config import KioskConfig
from kiosk.errors import KioskError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("shares", help="list, search and delete students' shares",
                            description="Manage the notebooks students shared on this kiosk.")
    commands = parser.add_subparsers(dest="shares_command", metavar="ACTION", required=True)
    lister = commands.add_parser("list", parents=[common], help="list shares, newest first")
    lister.add_argument("--search", metavar="TEXT", help="only shares whose id or name "
                        "contains TEXT")
    lister.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    lister.add_argument("--json", action="store_true", help="print JSON lines")
    lister.set_defaults(func=run_list)
    deleter = commands.add_parser("delete", parents=[common], help="delete one share")
    deleter.add_argument("id", help="the share's UUID or readable id")
    deleter.set_defaults(func=run_delete)
    clearer = commands.add_parser("clear", parents=[common], help="delete every share")
    clearer.add_argument("--yes", action="store_true", help="really delete them all")
    clearer.set_defaults(func=run_clear)


async def _with_store(config: KioskConfig, action: Any) -> Any:
    from kiosk.sharing.store import ShareStore

    store = ShareStore.in_data_dir(config.data_path)
    await store.start()
    try:
        return await action(store)
    finally:
        await store.close()


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def run_list(args: argparse.Namespace, config: KioskConfig) -> int:
    async def action(store: Any) -> tuple[list[Any], int]:
        return (await store.list(search=args.search, limit=args.limit),
                await store.count(search=args.search))

    shares, total = asyncio.run(_with_store(config, action))
    if args.json:
        for s in shares:
            print(json.dumps({"id": s.id, "readable_id": s.readable_id, "name": s.name,
                              "version": s.version, "size": s.size,
                              "created_at": s.created_at, "updated_at": s.updated_at}))
        return 0
    for s in shares:
        print(f"{s.readable_id:<36} {_when(s.updated_at)}  v{s.version:<3} "
              f"{s.size / 1024:8.1f} KiB  {s.name or ''}")
    shown = f"{len(shares)} of {total}" if total > len(shares) else str(total)
    print(f"{shown} share(s)", file=sys.stderr)
    return 0


def run_delete(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.sharing import ids

    async def action(store: Any) -> bool:
        share_id = ids.parse_uuid(args.id)
        if share_id is None:
            found = await store.get_by_readable_id(args.id)
            share_id = found.id if found else None
        return share_id is not None and bool(await store.delete(share_id))

    if not asyncio.run(_with_store(config, action)):
        raise KioskError(f"there is no share '{args.id}'")
    print(f"deleted {args.id}")
    return 0


def run_clear(args: argparse.Namespace, config: KioskConfig) -> int:
    if not args.yes:
        raise KioskError("this deletes every share; run again with --yes to do it")

    async def action(store: Any) -> int:
        return int(await store.clear())

    print(f"deleted {asyncio.run(_with_store(config, action))} share(s)")
    return 0
