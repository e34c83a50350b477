"""Boot a root directory with systemd as PID 1 (``systemd-nspawn -b``) and run commands in it.

This machine's PID 1 is not systemd and there is no system bus, so the container is
neither registered with machined nor given a scope (``--register=no --keep-unit``);
commands run inside with ``nsenter`` into every namespace of the container's PID 1
(its mount, PID, network, UTS, IPC and cgroup namespaces), with a clean environment.
``--private-network``: the container has only its own loopback, so the kiosk inside is
reachable from nowhere else, and nothing inside reaches any other machine.

A reboot is systemd's own (``systemctl reboot``): the whole shutdown runs, then
systemd-nspawn exits with 133 and :meth:`Container.boot` starts it again on the same
root, as the systemd-nspawn@ unit would.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from pathlib import Path

REBOOT_EXIT = 133  # systemd-nspawn's exit status when the container asked for a reboot
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerError(Exception):
    """The container did not boot, stop or answer as expected."""


class Container:
    """One root directory, booted and rebooted with systemd-nspawn."""

    def __init__(self, root: Path, machine: str, log: Path,
                 binds: list[tuple[Path, str]] | None = None) -> None:
        self.root = root
        self.machine = machine
        self.log = log
        self.binds = list(binds or [])
        self.proc: subprocess.Popen[bytes] | None = None
        self.leader = 0
        self.boots = 0

    def boot(self, timeout: float = 120) -> float:
        """Start the container and wait until systemd finished starting up; its seconds."""
        if self.proc is not None:
            raise ContainerError("already running")
        command = ["systemd-nspawn", "--quiet", "-D", str(self.root), "-b",
                   "--register=no", "--keep-unit", "--private-network",
                   f"--machine={self.machine}", "--console=passive"]
        command += [f"--bind-ro={src}:{dst}" for src, dst in self.binds]
        started = time.monotonic()
        with self.log.open("ab") as out:
            out.write(f"\n==== boot {self.boots + 1} ====\n".encode())
            out.flush()
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        self.leader = self._wait_for_leader(started + timeout)
        while True:
            state = self.run("systemctl", "is-system-running", "--wait", check=False,
                             timeout=max(1.0, started + timeout - time.monotonic()))
            answer = state.stdout.strip()
            if answer in ("running", "degraded"):
                break
            if time.monotonic() > started + timeout:
                raise ContainerError(f"systemd did not finish starting: {answer!r}")
            time.sleep(0.2)  # the manager is not answering yet
        self.boots += 1
        return time.monotonic() - started

    def _wait_for_leader(self, deadline: float) -> int:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ContainerError(f"systemd-nspawn exited with {self.proc.returncode}: "
                                     f"{self.log_tail()}")
            try:
                for pid in children.read_text().split():
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                        return int(pid)
            except OSError:
                pass
            time.sleep(0.05)
        raise ContainerError(f"no systemd in the container: {self.log_tail()}")

    def run(self, *command: str, user: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``command`` inside (as ``user`` through a login shell's environment)."""
        if not self.leader:
            raise ContainerError("not booted")
        inner = list(command)
        if user is not None:
            inner = ["runuser", "-l", user, "-c", " ".join(shlex.quote(c) for c in command)]
        full = ["nsenter", "-t", str(self.leader), "-a", "env", "-i", f"PATH={PATH}",
                "LANG=C.UTF-8", *inner]
        result = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                                check=False)
        if check and result.returncode != 0:
            raise ContainerError(f"{' '.join(command)} exited with {result.returncode}:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def _wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        self.leader = 0
        return code

    def reboot(self, timeout: float = 120) -> tuple[float, float]:
        """``systemctl reboot`` inside, then boot again; (shutdown s, boot s)."""
        started = time.monotonic()
        self.run("systemctl", "reboot", check=False)
        code = self._wait_exit(timeout)
        if code != REBOOT_EXIT:
            raise ContainerError(f"systemd-nspawn exited with {code}, not {REBOOT_EXIT} "
                                 f"(reboot): {self.log_tail()}")
        down = time.monotonic() - started
        return down, self.boot(timeout)

    def poweroff(self, timeout: float = 120) -> int:
        self.run("systemctl", "poweroff", check=False)
        return self._wait_exit(timeout)

    def close(self) -> None:
        """Stop the container whatever its state (kills systemd-nspawn if it hangs)."""
        if self.proc is not None:
            if self.leader:
                self.run("systemctl", "poweroff", check=False, timeout=30)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
            self.proc = None
            self.leader = 0
        # systemd-nspawn leaves this behind when /run is not a tmpfs (it says so)
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{self.machine}", ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

