"""A real boot, three times: the Pi guide run verbatim in a Debian root with systemd as PID 1.

What runs for real: debootstrap's Debian Bookworm root (cached, ``tests/container/root.py``),
``systemd-nspawn -b`` with systemd 252 as PID 1 and only a loopback interface, the guide's
laptop block (``make pi-stick`` into a temporary "stick") and its Pi block line by line as
the user ``teacher`` with sudo (``docs/operations.md``, read by ``tests/container/guide.py``),
``scripts/install.sh`` with pip, the hardened ``kiosk.service``, the kiosk itself, and
``systemctl reboot`` twice. Stand-ins, because they cannot run here: the stick is a folder
bind-mounted at ``/mnt`` (a block device cannot be mounted in this container, so the
guide's ``sudo mount /dev/sda1 /mnt`` is the one line not run), pip reads a wheel folder
built by pip on this machine instead of PyPI (``/etc/pip.conf`` in the container), and apt
has no sources (the root already holds the guide's packages).

Shares are made through the sharing API on the container's loopback before the reboots;
after each boot the service must be active with every share readable, every share's token
still accepted, the same admin secret and the same name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.container.guide import REPO, apt_packages, guide_block
from tests.container.nspawn import Container
from tests.container.root import USER, cached_root, cached_wheels, unpack_root

pytestmark = [pytest.mark.slow]

SHARES = 5
REBOOTS = 2
STICK_IN_GUIDE = "/media/$USER/STICK"
NAME_IN_GUIDE = "room12"


def _require() -> None:
    missing = [tool for tool in ("systemd-nspawn", "debootstrap", "nsenter", "chroot")
               if shutil.which(tool) is None]
    if os.geteuid() != 0 or missing:
        why = (f"missing {', '.join(missing)} (scripts/system-deps.sh test installs "
               "systemd-container and debootstrap)" if missing else "it needs root")
        if os.environ.get("CI") == "true":
            pytest.fail(f"the boot test cannot run: {why}")
        pytest.skip(f"the boot test cannot run: {why}")


@pytest.fixture
def pi(tmp_path: Path) -> Iterator[Container]:
    """A fresh copy of the cached root, with the stick and the wheel folder bound in."""
    _require()
    tarball = cached_root(apt_packages(guide_block("pi")))
    root = tmp_path / "root"
    root.mkdir()
    # A tmpfs: unpacking is faster and the 700 MB are gone with one umount afterwards.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3g,mode=0755", "kiosk-boot", str(root)],
                   check=True, timeout=30)
    try:
        wheels = cached_wheels(unpack_root(tarball, root))
    except BaseException:
        subprocess.run(["umount", str(root)], check=False, timeout=60)
        raise
    (root / "etc" / "pip.conf").write_text(
        "[global]\nno-index = true\nfind-links = /var/cache/kiosk-wheels\n"
        "disable-pip-version-check = true\n")
    stick = tmp_path / "stick"
    stick.mkdir()
    container = Container(root, f"kiosk-boot-{os.getpid()}", tmp_path / "container.log",
                          binds=[(stick, "/mnt"), (wheels, "/var/cache/kiosk-wheels")])
    try:
        yield container
    finally:
        container.close()
        if subprocess.run(["umount", str(root)], check=False, timeout=60).returncode:
            subprocess.run(["umount", "--lazy", str(root)], check=True, timeout=60)


def _laptop_block(stick: Path) -> None:
    """The guide's laptop block, here, with the test's stick folder as the stick."""
    lines = guide_block("laptop")
    assert any(STICK_IN_GUIDE in line for line in lines), lines
    script = "\n".join(line.replace(STICK_IN_GUIDE, str(stick)) for line in lines)
    result = subprocess.run(["bash", "-e", "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (stick / "kiosk" / "kiosk-bundle.tar").is_file()
    assert not (stick / "kiosk" / ".venv").exists()


def _state(pi: Container) -> dict[str, str]:
    """The service's state, the admin secret and the name, seen from inside."""
    active = pi.run("systemctl", "is-active", "kiosk", check=False).stdout.strip()
    secret = pi.run("kiosk", "admin", "secret", "--data-dir", "/var/lib/kiosk").stdout.strip()
    join = pi.run("python3", "-c", "import urllib.request as u; print(u.urlopen("
                  "'http://127.0.0.1:80/join.json', timeout=10).read().decode())")
    health = pi.run("python3", "-c", "import urllib.request as u; print(u.urlopen("
                    "'http://127.0.0.1:80/healthz', timeout=10).read().decode())")
    return {"active": active, "secret": secret, "name": json.loads(join.stdout)["name"],
            "health": json.loads(health.stdout)["status"]}


def _invocation(pi: Container) -> str:
    """The service's systemd invocation id: new at every start."""
    return pi.run("systemctl", "show", "kiosk", "-p", "InvocationID", "--value").stdout.strip()


def _journal(pi: Container) -> str:
    """The kiosk's log inside the container, for failure messages."""
    return pi.run("journalctl", "-u", "kiosk", "-n", "80", "--no-pager", check=False).stdout


def _listening_only_inside(pi: Container) -> None:
    """The container's network is its own: only a loopback interface, the kiosk on it."""
    links = Path(f"/proc/{pi.leader}/net/dev").read_text().splitlines()[2:]
    assert [line.split(":")[0].strip() for line in links] == ["lo"], links


def test_boot_pi_guide_verbatim_then_two_reboots(pi: Container, tmp_path: Path) -> None:
    stick = tmp_path / "stick"
    t0 = time.monotonic()
    _laptop_block(stick)
    t_laptop = time.monotonic() - t0

    first_boot = pi.boot()
    _listening_only_inside(pi)
    pi_lines = guide_block("pi")
    # The guide's `sudo mount /dev/sda1 /mnt` is prose before the block: the stick is
    # bound at /mnt already. Everything in the block runs, in order, as the Pi's user.
    script = pi.root / "home" / USER / "pi-guide.sh"
    script.write_text("\n".join(pi_lines) + "\n")
    t1 = time.monotonic()
    guide = pi.run("bash", "-e", "-x", "pi-guide.sh", user=USER, check=False, timeout=900)
    t_guide = time.monotonic() - t1
    assert guide.returncode == 0, (guide.stdout[-3000:] + guide.stderr[-3000:]
                                   + _journal(pi))
    out = guide.stdout.splitlines()
    assert "active" in out, guide.stdout  # the guide's own `systemctl is-active kiosk`
    secret = out[-1].strip()  # the guide's last line prints the admin secret
    assert len(secret) >= 16, guide.stdout

    state = _state(pi)
    assert state == {"active": "active", "secret": secret, "name": NAME_IN_GUIDE,
                     "health": "ok"}, state
    # the bundle the laptop built is the one served (make install put it where the
    # service looks) and it verifies there
    served = pi.run("cat", "/var/lib/kiosk/bundles/current").stdout.strip()
    verify = pi.run("kiosk", "bundle", "verify", "--bundles-dir", "/var/lib/kiosk/bundles",
                    served)
    assert "OK" in verify.stdout

    client = pi.root / "root" / "share_client.py"
    shutil.copy(REPO / "tests" / "container" / "share_client.py", client)
    made = pi.run("python3", "/root/share_client.py", "make", str(SHARES), "/root/shares.json")
    assert json.loads(made.stdout) == {"made": SHARES}

    figures = []
    invocations = {_invocation(pi)}
    for n in range(1, REBOOTS + 1):
        down, up = pi.reboot()
        _listening_only_inside(pi)
        invocations.add(_invocation(pi))
        assert len(invocations) == n + 1  # a fresh start of the service, not the old one
        after = _state(pi)
        assert after == state, (n, after, state, _journal(pi))
        checked = pi.run("python3", "/root/share_client.py", "check", "/root/shares.json",
                         f"boot{n}", check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout) == {"checked": SHARES, "problems": []}
        restarts = pi.run("systemctl", "show", "kiosk", "-p", "NRestarts").stdout.strip()
        assert restarts == "NRestarts=0", restarts
        figures.append((down, up))
    # The guide's upgrade: the same stick again (bound at /mnt at every boot).
    upgrade = pi.root / "home" / USER / "pi-upgrade.sh"
    upgrade.write_text("\n".join(guide_block("upgrade")) + "\n")
    t2 = time.monotonic()
    again = pi.run("bash", "-e", "-x", "pi-upgrade.sh", user=USER, check=False, timeout=900)
    t_upgrade = time.monotonic() - t2
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:] + _journal(pi)
    assert "was already there" in again.stdout  # the bundle, recognised, not copied twice
    assert _state(pi) == state
    invocations.add(_invocation(pi))
    assert len(invocations) == REBOOTS + 2  # make install restarted the service
    checked = pi.run("python3", "/root/share_client.py", "check", "/root/shares.json",
                     "upgrade", check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert pi.poweroff() == 0
    report = {"laptop_block_s": round(t_laptop, 1), "first_boot_s": round(first_boot, 1),
              "pi_block_s": round(t_guide, 1), "upgrade_block_s": round(t_upgrade, 1),
              "reboots": [{"shutdown_s": round(d, 1), "boot_s": round(u, 1)}
                          for d, u in figures]}
    print("boot figures:", json.dumps(report))
