"""``hotspot on|off|status``: run the nmcli plan and write the dnsmasq snippet.

This is the only module that changes the machine. It runs as root from the command
line (``sudo kiosk hotspot on``), never inside the service: NetworkManager keeps the
profile, so the hotspot comes back at boot and after radio resets by itself, and
the service only reads what it needs (:mod:`kiosk.hotspot.state`, the lease file).

Processes run as asyncio subprocesses through a :data:`Runner`, which tests replace.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from kiosk.errors import KioskError
from kiosk.hotspot import dnsmasq, nmcli
from kiosk.hotspot.leases import assess, read_active_count
from kiosk.hotspot.state import (
    HotspotChoice,
    clear_choice,
    load_or_create_passphrase,
    read_choice,
    save_choice,
)

_LOGGER = logging.getLogger(__name__)

# nmcli's exit code for "connection, device or access point does not exist".
NMCLI_NOT_FOUND = 10
# The kiosk answers probes on the hotspot only if phones reach it on the HTTP port.
PORTAL_PORT = 80


class HotspotError(KioskError):
    """A hotspot command failed; the message says which and what nmcli said."""

    code = "hotspot_error"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did: exit code and its output."""

    returncode: int
    stdout: str = ""
    stderr: str = ""


Runner = Callable[[Sequence[str]], Awaitable[CommandResult]]


# nmcli waits up to ACTIVATE_WAIT itself; this only stops a wedged process.
COMMAND_TIMEOUT = 90.0


async def run_process(args: Sequence[str]) -> CommandResult:
    """Run one command without a shell and collect its output (the default Runner)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError:
        raise HotspotError(f"{args[0]} is not installed") from None
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise HotspotError(f"{args[0]} did not finish within {COMMAND_TIMEOUT:.0f} s") \
            from None
    assert proc.returncode is not None
    return CommandResult(proc.returncode, out.decode(errors="replace"),
                         err.decode(errors="replace"))


def spec_from_config(config: KioskConfig, *, open_network: bool, ifname: str,
                     passphrase: str | None) -> nmcli.HotspotSpec:
    """The validated hotspot settings (``passphrase`` is the one to use, if any)."""
    return nmcli.make_spec(ssid=config.hotspot_ssid or config.name,
                           passphrase=None if open_network else passphrase,
                           country=config.hotspot_country, channel=config.hotspot_channel,
                           address=config.hotspot_address, ifname=ifname)


def snippet_for(config: KioskConfig) -> str:
    """The dnsmasq snippet for this configuration."""
    return dnsmasq.render_snippet(name=config.name, alias=config.hotspot_alias,
                                  address=config.hotspot_address)


def plan_on(spec: nmcli.HotspotSpec, *, profile_exists: bool,
            raspi_config: bool) -> list[list[str]]:
    """Every command of ``hotspot on``, in order (the snippet is written before these)."""
    return [
        *nmcli.country_commands(spec.country, raspi_config=raspi_config),
        nmcli.radio_on_command(),
        nmcli.modify_command(spec) if profile_exists else nmcli.add_command(spec),
        nmcli.up_command(),
    ]


def plan_off() -> list[list[str]]:
    """Every command of ``hotspot off``, in order."""
    return [nmcli.autoconnect_off_command(), nmcli.down_command()]


def _failure(args: Sequence[str], result: CommandResult) -> HotspotError:
    said = (result.stderr or result.stdout).strip().splitlines()
    detail = said[-1] if said else f"exit code {result.returncode}"
    return HotspotError(f"'{' '.join(nmcli.redact(args)[:4])} …' failed: {detail}")


@dataclass(slots=True)
class OnReport:
    """What ``hotspot on`` did, for the command line to print."""

    spec: nmcli.HotspotSpec
    snippet_path: Path
    commands: list[list[str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def hotspot_on(config: KioskConfig, *, open_network: bool = False,
                     ifname: str = nmcli.DEFAULT_IFNAME, runner: Runner = run_process,
                     conf_dir: Path = dnsmasq.SHARED_CONF_DIR) -> OnReport:
    """Make (or update) the hotspot profile, write the snippet, and bring it up."""
    passphrase = config.hotspot_password
    if passphrase is None and not open_network:
        passphrase = await asyncio.to_thread(load_or_create_passphrase, config.data_path)
    spec = spec_from_config(config, open_network=open_network, ifname=ifname,
                            passphrase=passphrase)
    report = OnReport(spec, conf_dir / dnsmasq.SNIPPET_NAME)
    if config.port != PORTAL_PORT:
        report.warnings.append(
            f"the kiosk listens on port {config.port}: phones' connectivity probes use port "
            f"{PORTAL_PORT}, so they will not see the sign-in page (set port = 80)")
    await asyncio.to_thread(_write_snippet, report.snippet_path, snippet_for(config))
    exists = await runner(nmcli.exists_command())
    raspi = await asyncio.to_thread(shutil.which, "raspi-config") is not None
    for args in plan_on(spec, profile_exists=exists.returncode == 0, raspi_config=raspi):
        result = await runner(args)
        report.commands.append(nmcli.redact(args))
        if result.returncode != 0:
            if args[0] != nmcli.NMCLI:
                # No raspi-config and no iw: the radio keeps its current country.
                report.warnings.append(f"could not set the Wi-Fi country with {args[0]}: "
                                       f"{(result.stderr or result.stdout).strip()}")
                continue
            raise _failure(args, result)
    choice = HotspotChoice(ssid=spec.ssid, open=spec.is_open, ifname=spec.ifname)
    await asyncio.to_thread(save_choice, config.data_path, choice)
    return report


async def hotspot_off(config: KioskConfig, *, runner: Runner = run_process,
                      conf_dir: Path = dnsmasq.SHARED_CONF_DIR) -> list[str]:
    """Stop the hotspot and keep it from coming back; returns notes for people."""
    notes: list[str] = []
    for args in plan_off():
        result = await runner(args)
        if result.returncode == NMCLI_NOT_FOUND:
            notes.append("the hotspot profile was not active" if "down" in args
                         else "there is no hotspot profile")
        elif result.returncode != 0:
            raise _failure(args, result)
    await asyncio.to_thread(_remove, conf_dir / dnsmasq.SNIPPET_NAME)
    await asyncio.to_thread(clear_choice, config.data_path)
    return notes


async def hotspot_status(config: KioskConfig, *, runner: Runner = run_process,
                         lease_dir: Path = dnsmasq.NM_LEASE_DIR) -> dict[str, Any]:
    """The profile's state from NetworkManager and the number of clients."""
    result = await runner(nmcli.status_command())
    choice = await asyncio.to_thread(read_choice, config.data_path)
    ifname = choice.ifname if choice is not None else nmcli.DEFAULT_IFNAME
    info: dict[str, Any] = {"profile": nmcli.PROFILE, "configured": False, "active": False}
    if result.returncode == 0:
        fields = nmcli.parse_terse(result.stdout)
        info.update(configured=True,
                    active=fields.get("GENERAL.STATE") == "activated",
                    autoconnect=fields.get("connection.autoconnect") == "yes",
                    ssid=fields.get("802-11-wireless.ssid"),
                    channel=fields.get("802-11-wireless.channel"),
                    device=fields.get("GENERAL.DEVICES") or None,
                    addresses=[a for a in fields.get("IP4.ADDRESS", "").split(",") if a])
    elif result.returncode != NMCLI_NOT_FOUND:
        raise _failure(nmcli.status_command(), result)
    count = await asyncio.to_thread(read_active_count, lease_dir / f"dnsmasq-{ifname}.leases",
                                    time.time())
    load = assess(count or 0)
    info.update(open=choice.open if choice is not None else None, clients=count or 0,
                level=load.level, warning=load.message)
    return info


def _write_snippet(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except PermissionError:
        raise HotspotError(f"cannot write {path}: run 'sudo kiosk hotspot on'") from None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except PermissionError:
        raise HotspotError(f"cannot remove {path}: run 'sudo kiosk hotspot off'") from None
