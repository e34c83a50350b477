"""Write the small pure-Python wheels the bundle build makes itself.

The kiosk ships two wheels of its own in a bundle (matplotlib's prebuilt font cache,
``kiosk/bundle/fontcache.py``, and the kernel's start, ``kiosk/bundle/kernelstart.py``).
Both must be deterministic: the same content gives the same bytes (fixed timestamps
and modes), so that a rebuilt bundle is byte-identical and its hashes stay put.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path

_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_pure_wheel(out_dir: Path, package: str, version: str, summary: str,
                     content: Mapping[str, bytes]) -> Path:
    """``<dist>-<version>-py3-none-any.whl`` in ``out_dir`` holding ``content``
    (archive name → bytes), with its METADATA, WHEEL and RECORD."""
    dist = package.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        **content,
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
                             f"Summary: {summary}\n").encode(),
        f"{info}/WHEEL": (b"Wheel-Version: 1.0\nGenerator: kiosk\nRoot-Is-Purelib: true\n"
                          b"Tag: py3-none-any\n"),
    }
    record = [_record_line(name, data) for name, data in files.items()]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = out_dir / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zinfo = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            zinfo.compress_type = zipfile.ZIP_DEFLATED
            zinfo.external_attr = 0o644 << 16
            zf.writestr(zinfo, data)
    return path
