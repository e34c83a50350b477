"""`kiosk shares …` and `kiosk admin secret` on a real store in the data directory."""

from __future__ import annotations

import asyncio

from kiosk.cli import main
from kiosk.secrets import admin_secret_path
from kiosk.sharing.store import ShareStore


def _seed(data_dir, names):
    async def go():
        store = ShareStore.in_data_dir(data_dir)
        await store.start()
        out = [(await store.create("{}", owner_session="s", name=n)).share for n in names]
        await store.close()
        return out
    return asyncio.run(go())


def test_cli_shares_list_delete_clear(tmp_path, capsys):
    data = tmp_path / "data"
    a, b = _seed(data, ["Fractions", "Turtles"])
    base = ["--data-dir", str(data)]
    assert main(["shares", "list", *base]) == 0
    out = capsys.readouterr().out
    assert a.readable_id in out and "Turtles" in out
    assert main(["shares", "list", "--search", "fract", "--json", *base]) == 0
    out = capsys.readouterr().out
    assert a.id in out and b.id not in out
    assert main(["shares", "delete", a.readable_id.upper(), *base]) == 0
    assert main(["shares", "delete", a.id, *base]) == 2
    assert "no share" in capsys.readouterr().err
    assert main(["shares", "clear", *base]) == 2
    assert main(["shares", "clear", "--yes", *base]) == 0
    assert "deleted 1 share" in capsys.readouterr().out


def test_cli_admin_secret(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["admin", "secret", "--data-dir", str(data)]) == 0
    first = capsys.readouterr().out.strip()
    assert first == admin_secret_path(data).read_text().strip()
    assert main(["admin", "secret", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.strip() == first
