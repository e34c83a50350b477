"""``kiosk shares list|delete|clear``: the teacher's share management from a shell.

Works directly on the share store in the data directory, also while the kiosk runs
(SQLite's WAL and busy timeout let both use the file).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

from kiosk.cli.messages import translations
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
    exporter = commands.add_parser(
        "export", parents=[common], help="save every share in a zip of notebooks",
        description="End of term: write every share into FILE, a zip of .ipynb files "
        "named by the notebook's title (its first heading) and the student's name.")
    exporter.add_argument("file", type=Path, metavar="FILE", help="the zip to write "
                          "(must not exist yet)")
    exporter.add_argument("--clear", action="store_true", help="then delete the exported "
                          "shares (a share changed after its export is kept)")
    exporter.set_defaults(func=run_export)


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
    t = translations(config)
    if total > len(shares):
        print(t.ngettext("%(shown)d of %(n)d share", "%(shown)d of %(n)d shares", total)
              % {"shown": len(shares), "n": total}, file=sys.stderr)
    else:
        print(t.ngettext("%(n)d share", "%(n)d shares", total) % {"n": total},
              file=sys.stderr)
    return 0


def run_delete(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.sharing import ids

    async def action(store: Any) -> bool:
        share_id = ids.parse_uuid(args.id)
        if share_id is None:
            found = await store.get_by_readable_id(args.id)
            share_id = found.id if found else None
        return share_id is not None and bool(await store.delete(share_id))

    t = translations(config)
    if not asyncio.run(_with_store(config, action)):
        raise KioskError(t.gettext("there is no share '%(code)s'") % {"code": args.id})
    print(t.gettext("deleted %(code)s") % {"code": args.id})
    return 0


def run_clear(args: argparse.Namespace, config: KioskConfig) -> int:
    t = translations(config)
    if not args.yes:
        raise KioskError(t.gettext("this deletes every share; run again with --yes to do it"))

    async def action(store: Any) -> int:
        return int(await store.clear())

    deleted = asyncio.run(_with_store(config, action))
    print(t.ngettext("deleted %(n)d share", "deleted %(n)d shares", deleted) % {"n": deleted})
    return 0


async def _write_zip(store: Any, target: Path) -> Any:
    """Export into ``target`` through a temporary file, fsynced before its rename."""
    from kiosk.sharing.export import export_shares

    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    handle = await asyncio.to_thread(tmp.open, "xb")

    async def write(chunk: bytes) -> None:
        await asyncio.to_thread(handle.write, chunk)

    try:
        exported = await export_shares(store, write)
        await asyncio.to_thread(handle.flush)
        await asyncio.to_thread(os.fsync, handle.fileno())
    except BaseException:
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(tmp.unlink, True)
        raise
    await asyncio.to_thread(handle.close)
    await asyncio.to_thread(tmp.rename, target)
    return exported


def run_export(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.sharing.export import delete_exported

    t = translations(config)
    target: Path = args.file.expanduser().absolute()
    if target.exists():
        raise KioskError(t.gettext("%(path)s exists already; give another file name")
                         % {"path": target})
    if not target.parent.is_dir():
        raise KioskError(t.gettext("%(path)s is not a folder") % {"path": target.parent})

    async def action(store: Any) -> tuple[int, tuple[int, int] | None]:
        exported = await _write_zip(store, target)
        cleared = await delete_exported(store, exported) if args.clear else None
        return len(exported), cleared

    count, cleared = asyncio.run(_with_store(config, action))
    print(t.ngettext("wrote %(n)d notebook to %(path)s", "wrote %(n)d notebooks to %(path)s",
                     count) % {"n": count, "path": target})
    if cleared is not None:
        deleted, kept = cleared
        done = t.ngettext("deleted %(n)d share", "deleted %(n)d shares", deleted) % {
            "n": deleted}
        if kept:
            done = t.ngettext("%(done)s; kept %(n)d changed after its export",
                              "%(done)s; kept %(n)d changed after their export", kept) % {
                "done": done, "n": kept}
        print(done)
    return 0
