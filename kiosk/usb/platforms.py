"""The platforms and Python versions a stick carries wheels for.

Each :class:`Platform` names its folder on the stick (``wheels/<key>``), the wheel
platform tags ``pip download --platform`` accepts for it, and the values of the
environment markers (``sys_platform``, ``platform_machine``...) that decide which
conditional dependencies (``pywin32; sys_platform == "win32"``) it needs. ``pip
download`` evaluates markers against the machine it runs on, not the target, so the
wheel code evaluates them itself with these values.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.tags import mac_platforms

#: Python versions a stick is made for by default: those with upstream support
#: that every dependency ships wheels for (3.10 is too old for the kiosk).
PYTHON_VERSIONS: tuple[str, ...] = ("3.11", "3.12", "3.13", "3.14")

#: Oldest glibc of the Linux wheels (manylinux_2_28: Debian 11, Ubuntu 20.04, RHEL 8).
GLIBC_FLOOR = 28

#: Oldest macOS of the macOS wheels (11.0 Big Sur, the first with Apple silicon).
MACOS_FLOOR = (11, 0)


@dataclass(frozen=True, slots=True)
class Platform:
    """One operating system and processor a stick carries wheels for."""

    key: str
    title: str
    sys_platform: str
    platform_system: str
    os_name: str
    machine: str
    #: what ``platform.machine()`` says on such a laptop (any case)
    machines: tuple[str, ...]
    #: wheel platform tags, most specific first (each is one ``--platform``)
    tags: tuple[str, ...]

    def marker_env(self, python: str) -> dict[str, str]:
        """Environment-marker values of CPython ``python`` (e.g. "3.12") on this platform."""
        return {
            "implementation_name": "cpython",
            "implementation_version": python + ".0",
            "os_name": self.os_name,
            "platform_machine": self.machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": self.platform_system,
            "platform_version": "",
            "python_full_version": python + ".0",
            "python_version": python,
            "sys_platform": self.sys_platform,
        }

    def describe(self) -> dict[str, object]:
        """What the stick's manifest says about the platform (read by the launcher)."""
        return {"title": self.title, "sys_platform": self.sys_platform,
                "machines": list(self.machines)}


def _linux_tags(arch: str) -> tuple[str, ...]:
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_FLOOR, 16, -1)]
    tags.append(f"manylinux2014_{arch}")
    if arch == "x86_64":
        tags += [f"manylinux_2_{minor}_{arch}" for minor in range(16, 4, -1)]
        tags += [f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    return tuple(tags)


def _mac_tags(arch: str) -> tuple[str, ...]:
    return tuple(mac_platforms(MACOS_FLOOR, arch))


PLATFORMS: tuple[Platform, ...] = (
    Platform("windows-x86_64", "Windows (x86-64)", "win32", "Windows", "nt", "AMD64",
             ("amd64", "x86_64"), ("win_amd64",)),
    Platform("windows-arm64", "Windows (arm64)", "win32", "Windows", "nt", "ARM64",
             ("arm64", "aarch64"), ("win_arm64",)),
    Platform("macos-x86_64", "macOS (Intel)", "darwin", "Darwin", "posix", "x86_64",
             ("x86_64",), _mac_tags("x86_64")),
    Platform("macos-arm64", "macOS (Apple silicon)", "darwin", "Darwin", "posix", "arm64",
             ("arm64", "aarch64"), _mac_tags("arm64")),
    Platform("linux-x86_64", "Linux (x86-64)", "linux", "Linux", "posix", "x86_64",
             ("x86_64", "amd64"), _linux_tags("x86_64")),
    Platform("linux-aarch64", "Linux (arm64)", "linux", "Linux", "posix", "aarch64",
             ("aarch64", "arm64"), _linux_tags("aarch64")),
)


def platform_by_key(key: str) -> Platform:
    """The platform called ``key`` (a :class:`~kiosk.errors.UsbError` names the choices)."""
    from kiosk.errors import UsbError

    for platform in PLATFORMS:
        if platform.key == key:
            return platform
    raise UsbError(f"unknown platform {key!r}: choose from "
                   + ", ".join(p.key for p in PLATFORMS))
