"""A FUSE pass-through that forgets, at a simulated power cut, whatever was not fsynced.

The idea of LazyFS, written small for the power-cut tests. ``python -m tests.lazyfs
BACKING MOUNTPOINT`` mounts ``BACKING`` at ``MOUNTPOINT`` (foreground, one thread, libfuse 3
through ``mfusepy``). Every operation goes straight through to ``BACKING``: it plays the
page cache, what running programs see. Beside it the daemon keeps, in memory, the *disk*:
what a power cut would leave, built from the operations that make data durable on a
POSIX file system, and nothing else:

* ``fsync``/``fdatasync`` of a file stores its current size and the pages written since
  its last sync (its content, its mode) -- but not the names it is reachable by;
* ``fsync`` of a directory stores its current entries (names to files and
  directories): creations, renames, links and unlinks in it become durable together;
  a file reachable only through an entry made durable so, whose content was never
  synced, comes back empty (a new directory comes back empty too);
* everything that exists when the file system is mounted counts as on disk.

So a program that renames a file into place without fsyncing the file, or without
fsyncing the directory after the rename, or that writes without fsync, loses data at a
cut here, as it may on a real SD card (stricter than ext4 in its default mode, which
often keeps such renames; never more lenient than POSIX promises).

Control, through extended attributes of the mount's root (root only, so no program
under test uses them by accident):

* ``setxattr(ROOT, "user.lazyfs.cut", b"")``: the power cut, now. ``BACKING`` is
  rewritten to hold exactly the disk, and the power is *off*: every later operation
  fails with EIO (a program still running must not reach the disk after the cut, e.g.
  SQLite deleting its WAL as it closes) until it is unmounted. Mount again to go on.
* ``setxattr(ROOT, "user.lazyfs.cut_after", b"N")``: the cut comes at the N-th operation
  that changes something (write, sync, create, rename, ...) from now on, before it runs;
  that operation and all later ones fail with EIO (so nothing can be acknowledged after
  the cut without the test seeing it). ``b"N /sub"`` counts only operations on paths
  under ``/sub`` (another program may be writing elsewhere meanwhile).
* ``getxattr(ROOT, "user.lazyfs.stats")``: JSON counters (writes, fsyncs, directory
  fsyncs, cuts, the unsynced pages and the paths (gone, back, or with other content)
  the cuts changed).

Not modelled: torn pages (a page is written whole or not at all) and writes reordered
within one fsync interval (a cut keeps none of them). Hard-linked files share content;
extended attributes other than the two above are refused; symlinks count as durable
with their directory entry.
"""

from __future__ import annotations

import ctypes.util
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE = 4096
CUT_XATTR = "user.lazyfs.cut"
STATS_XATTR = "user.lazyfs.stats"
CUT_AFTER_XATTR = "user.lazyfs.cut_after"


@dataclass
class FileNode:
    """A regular file as it is on disk."""

    data: bytearray = field(default_factory=bytearray)
    mode: int = 0o644


@dataclass
class DirNode:
    """A directory as it is on disk: its entries, name to node id."""

    entries: dict[str, int] = field(default_factory=dict)
    mode: int = 0o755


@dataclass
class LinkNode:
    """A symbolic link."""

    target: str


Node = FileNode | DirNode | LinkNode


class Disk:
    """What survives a power cut: nodes by id; node 0 is the root directory."""

    ROOT = 0

    def __init__(self) -> None:
        self.nodes: dict[int, Node] = {}

    def materialize(self, root: Path) -> None:
        """Make the directory ``root`` hold exactly this disk (hard links kept)."""
        for entry in list(root.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        placed: dict[int, Path] = {}
        self._fill(self.ROOT, root, placed)
        root_node = self.nodes[self.ROOT]
        assert isinstance(root_node, DirNode)
        os.chmod(root, stat.S_IMODE(root_node.mode))

    def _fill(self, dir_id: int, where: Path, placed: dict[int, Path]) -> None:
        node = self.nodes[dir_id]
        assert isinstance(node, DirNode)
        for name, child_id in sorted(node.entries.items()):
            child = self.nodes.get(child_id)
            path = where / name
            if child is None:
                continue
            if isinstance(child, DirNode):
                if child_id in placed:
                    continue  # a directory reachable twice (a cut mid-rename): keep one
                placed[child_id] = path
                path.mkdir()
                self._fill(child_id, path, placed)
                os.chmod(path, stat.S_IMODE(child.mode))
            elif isinstance(child, LinkNode):
                os.symlink(child.target, path)
            elif child_id in placed:
                os.link(placed[child_id], path)
            else:
                placed[child_id] = path
                path.write_bytes(bytes(child.data))
                os.chmod(path, stat.S_IMODE(child.mode))


class LazyFS:
    """The FUSE operations (``mfusepy.Operations`` protocol), passing through to ``backing``."""

    use_ns = True

    def __init__(self, backing: Path) -> None:
        self.backing = backing.resolve()
        self.disk = Disk()
        self.ids: dict[int, int] = {}  # st_ino in backing -> node id
        self.next_id = 1
        self.fh_ids: dict[int, int] = {}  # open file handle -> node id
        self.dirty: dict[int, set[int]] = {}  # node id -> pages written since its last sync
        self.shrunk: dict[int, int] = {}  # node id -> smallest size truncated to since then
        self.stats: dict[str, int] = {"writes": 0, "fsyncs": 0, "dir_fsyncs": 0, "cuts": 0,
                                      "dropped_pages": 0, "changed_paths": 0, "mutations": 0,
                                      "off": 0}
        self.cut_at: int | None = None  # cut at this many changing operations ...
        self.cut_prefix = "/"  # ... on paths under this one
        self.cut_count = 0
        # LAZYFS_TRACE=FILE: one line per changing operation, "N op path", " CUT" marked.
        trace = os.environ.get("LAZYFS_TRACE")
        self.trace = open(trace, "a", buffering=1) if trace else None  # noqa: SIM115
        self._snapshot()

    # -- the disk ---------------------------------------------------------------------

    def _snapshot(self) -> None:
        """Count everything in ``backing`` as on disk (at mount, and after a cut)."""
        self.disk = Disk()
        self.ids = {}
        self.dirty = {}
        self.shrunk = {}
        self.next_id = 1
        root_st = os.lstat(self.backing)
        self.ids[root_st.st_ino] = Disk.ROOT
        self.disk.nodes[Disk.ROOT] = DirNode(mode=root_st.st_mode)
        self._snapshot_dir(self.backing, Disk.ROOT)

    def _snapshot_dir(self, path: Path, dir_id: int) -> None:
        node = self.disk.nodes[dir_id]
        assert isinstance(node, DirNode)
        with os.scandir(path) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                known = st.st_ino in self.ids
                node_id = self._id_of(st)
                node.entries[entry.name] = node_id
                if known:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    self.disk.nodes[node_id] = DirNode(mode=st.st_mode)
                    self._snapshot_dir(Path(entry.path), node_id)
                elif stat.S_ISLNK(st.st_mode):
                    self.disk.nodes[node_id] = LinkNode(os.readlink(entry.path))
                else:
                    self.disk.nodes[node_id] = FileNode(bytearray(Path(entry.path).read_bytes()),
                                                        st.st_mode)

    def _id_of(self, st: os.stat_result) -> int:
        node_id = self.ids.get(st.st_ino)
        if node_id is None:
            node_id = self._new_id(st)
        return node_id

    def _new_id(self, st: os.stat_result) -> int:
        """A fresh node id for an inode just created (inode numbers are reused)."""
        node_id = self.next_id
        self.next_id += 1
        self.ids[st.st_ino] = node_id
        return node_id

    def _created(self, path: str) -> None:
        self._new_id(os.lstat(self._real(path)))

    def _sync_file(self, fh: int) -> None:
        node_id = self.fh_ids[fh]
        st = os.fstat(fh)
        node = self.disk.nodes.get(node_id)
        if not isinstance(node, FileNode):
            node = FileNode()
            self.disk.nodes[node_id] = node
        node.mode = st.st_mode
        size = st.st_size
        # Cut where it was truncated since its last sync (a later extension reads zeros).
        del node.data[min(size, self.shrunk.pop(node_id, size)):]
        if len(node.data) < size:
            node.data.extend(bytes(size - len(node.data)))
        for page in sorted(self.dirty.pop(node_id, set())):
            start = page * PAGE
            if start >= size:
                continue
            chunk = os.pread(fh, min(PAGE, size - start), start)
            node.data[start:start + len(chunk)] = chunk

    def _sync_dir(self, path: str) -> None:
        real = self._real(path)
        dir_st = os.lstat(real)
        dir_id = self._id_of(dir_st)
        node = DirNode(mode=dir_st.st_mode)
        self.disk.nodes[dir_id] = node
        with os.scandir(real) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                child_id = self._id_of(st)
                node.entries[entry.name] = child_id
                if child_id in self.disk.nodes:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    self.disk.nodes[child_id] = DirNode(mode=st.st_mode)
                elif stat.S_ISLNK(st.st_mode):
                    self.disk.nodes[child_id] = LinkNode(os.readlink(entry.path))
                else:
                    self.disk.nodes[child_id] = FileNode(mode=st.st_mode)

    def cut(self) -> None:
        """The power cut: ``backing`` becomes the disk; everything else is forgotten."""
        self.stats["cuts"] += 1
        self.stats["dropped_pages"] += sum(len(p) for p in self.dirty.values())
        before = _listing(self.backing)
        self.disk.materialize(self.backing)
        self._snapshot()
        after = _listing(self.backing)
        self.stats["changed_paths"] += sum(1 for path in before.keys() | after.keys()
                                           if before.get(path) != after.get(path))

    def _live(self) -> None:
        if self.stats["off"]:
            raise OSError(errno.EIO, "the power is off")

    def _mutate(self, op: str, path: str | None) -> None:
        """Before an operation that changes something: the scheduled cut comes here."""
        self._live()
        self.stats["mutations"] += 1
        cut = False
        if self.cut_at is not None and (path or "").startswith(self.cut_prefix):
            self.cut_count += 1
            cut = self.cut_count >= self.cut_at
        if self.trace is not None:
            self.trace.write(f"{self.stats['mutations']} {op} {path}"
                             f"{' CUT' if cut else ''}\n")
        if cut:
            self.cut()
            self.stats["off"] = 1
            raise OSError(errno.EIO, "the power is off")

    # -- pass-through -------------------------------------------------------------------

    def _real(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, Any]:
        if path != "/":
            self._live()
        st = os.fstat(fh) if fh is not None and path is None else os.lstat(self._real(path or "/"))
        keys = ("st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks",
                "st_blksize")
        attrs: dict[str, Any] = {k: getattr(st, k) for k in keys}
        attrs.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
        return attrs

    def access(self, path: str, amode: int) -> int:
        self._live()
        if not os.access(self._real(path), amode):
            raise OSError(errno.EACCES, "access denied")
        return 0

    def readdir(self, path: str, fh: int) -> list[str]:
        self._live()
        return [".", "..", *os.listdir(self._real(path))]

    def readlink(self, path: str) -> str:
        self._live()
        return os.readlink(self._real(path))

    def mknod(self, path: str, mode: int, dev: int) -> int:
        self._mutate("mknod", path)
        os.mknod(self._real(path), mode, dev)
        self._created(path)
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        self._mutate("mkdir", path)
        os.mkdir(self._real(path), mode)
        self._created(path)
        return 0

    def symlink(self, target: str, source: str) -> int:
        self._mutate("symlink", target)
        os.symlink(source, self._real(target))
        self._created(target)
        return 0

    def unlink(self, path: str) -> int:
        self._mutate("unlink", path)
        os.unlink(self._real(path))
        return 0

    def rmdir(self, path: str) -> int:
        self._mutate("rmdir", path)
        os.rmdir(self._real(path))
        return 0

    def rename(self, old: str, new: str) -> int:
        self._mutate("rename", f"{old} -> {new}")
        os.rename(self._real(old), self._real(new))
        return 0

    def link(self, target: str, source: str) -> int:
        self._mutate("link", target)
        os.link(self._real(source), self._real(target))
        return 0

    def chmod(self, path: str | None, mode: int) -> int:
        self._mutate("chmod", path)
        os.chmod(self._real(path or "/"), mode)
        return 0

    def chown(self, path: str | None, uid: int, gid: int) -> int:
        self._mutate("chown", path)
        os.lchown(self._real(path or "/"), uid, gid)
        return 0

    def utimens(self, path: str | None, times: tuple[int, int] | None = None) -> int:
        self._mutate("utimens", path)
        real = self._real(path or "/")
        if times is None:
            os.utime(real, follow_symlinks=False)
        else:
            os.utime(real, ns=times, follow_symlinks=False)
        return 0

    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        self._mutate("truncate", path)
        if fh is not None:
            os.ftruncate(fh, length)
            node_id = self.fh_ids[fh]
        else:
            real = self._real(path or "/")
            os.truncate(real, length)
            node_id = self._id_of(os.lstat(real))
        self._shrink(node_id, length)
        return 0

    def _shrink(self, node_id: int, length: int) -> None:
        self.shrunk[node_id] = min(length, self.shrunk.get(node_id, length))

    def statfs(self, path: str) -> dict[str, int]:
        self._live()
        sv = os.statvfs(self._real(path))
        return {k: getattr(sv, k) for k in ("f_bsize", "f_frsize", "f_blocks", "f_bfree",
                                            "f_bavail", "f_files", "f_ffree", "f_favail",
                                            "f_flag", "f_namemax")}

    @staticmethod
    def _backing_flags(flags: int) -> int:
        """Open flags for the backing file: always readable (a sync reads the pages back),
        never O_APPEND (the kernel sends the offset of every write)."""
        if flags & os.O_ACCMODE == os.O_WRONLY:
            flags = (flags & ~os.O_ACCMODE) | os.O_RDWR
        return flags & ~os.O_APPEND

    def open(self, path: str, flags: int) -> int:
        if flags & os.O_TRUNC:
            self._mutate("open O_TRUNC", path)
        self._live()
        fh = os.open(self._real(path), self._backing_flags(flags) & ~(os.O_CREAT | os.O_EXCL))
        self.fh_ids[fh] = self._id_of(os.fstat(fh))
        if flags & os.O_TRUNC:
            self._shrink(self.fh_ids[fh], 0)
        return fh

    def create(self, path: str, mode: int, flags: int = os.O_WRONLY) -> int:
        self._mutate("create", path)
        real = self._real(path)
        existed = os.path.lexists(real)  # O_CREAT without O_EXCL may open an existing file
        fh = os.open(real, self._backing_flags(flags) | os.O_CREAT, mode)
        st = os.fstat(fh)
        self.fh_ids[fh] = self._id_of(st) if existed else self._new_id(st)
        if existed and flags & os.O_TRUNC:
            self._shrink(self.fh_ids[fh], 0)
        return fh

    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        self._live()
        return os.pread(fh, size, offset)

    def write(self, path: str | None, data: bytes, offset: int, fh: int) -> int:
        self._mutate("write", path)
        written = os.pwrite(fh, data, offset)
        pages = self.dirty.setdefault(self.fh_ids[fh], set())
        pages.update(range(offset // PAGE, (offset + max(written, 1) - 1) // PAGE + 1))
        self.stats["writes"] += 1
        return written

    def flush(self, path: str | None, fh: int) -> int:
        return 0  # close() is not a sync

    def release(self, path: str | None, fh: int) -> int:
        self.fh_ids.pop(fh, None)
        os.close(fh)
        return 0

    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        self._mutate("fsync", path)
        self._sync_file(fh)
        self.stats["fsyncs"] += 1
        return 0

    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        self._mutate("fsyncdir", path)
        if path is not None:
            self._sync_dir(path)
        self.stats["dir_fsyncs"] += 1
        return 0

    def setxattr(self, path: str, name: str, value: bytes, options: int,
                 position: int = 0) -> int:
        if path == "/" and name == CUT_XATTR:
            self._live()
            self.cut()
            self.stats["off"] = 1
            return 0
        if path == "/" and name == CUT_AFTER_XATTR:
            count, _, prefix = value.decode().partition(" ")
            self.cut_at, self.cut_prefix, self.cut_count = int(count), prefix or "/", 0
            return 0
        raise OSError(errno.ENOTSUP, "extended attributes are not supported")

    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        if path == "/" and name == STATS_XATTR:
            return json.dumps(self.stats).encode()
        raise OSError(errno.ENODATA, "no such attribute")

    def listxattr(self, path: str) -> list[str]:
        return []

    def removexattr(self, path: str, name: str) -> int:
        raise OSError(errno.ENOTSUP, "extended attributes are not supported")


def _listing(root: Path) -> dict[str, bytes | str]:
    """Every path under ``root``: a file's content, a link's target, ``"dir"``."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(dirpath, name), root)] = "dir"
        for name in files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            found[rel] = os.readlink(path) if os.path.islink(path) else Path(path).read_bytes()
    return found


REPO = Path(__file__).resolve().parent.parent


def why_no_fuse() -> str | None:
    """Why a lazyfs cannot be mounted here (None: it can)."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse (the kernel has no FUSE, or the container hides it)"
    if shutil.which("fusermount3") is None:
        return "no fusermount3 (Debian package fuse3; scripts/system-deps.sh test)"
    if ctypes.util.find_library("fuse3") is None:
        return "no libfuse3 (Debian package libfuse3-3)"
    try:
        import mfusepy  # type: ignore[import-untyped]  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"the mfusepy bindings do not load: {exc} (pip install -e '.[test]')"
    return None


def require_fuse() -> None:
    """In a test: skip when lazyfs cannot mount here; under CI=true, fail instead."""
    import pytest

    reason = why_no_fuse()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the power-cut tests cannot run: {reason}")
    pytest.skip(reason)


class LazyMount:
    """A lazyfs daemon mounting ``backing`` at ``mountpoint``, driven from a test."""

    def __init__(self, backing: Path, mountpoint: Path, log: Path) -> None:
        self.backing, self.mountpoint, self.log = backing, mountpoint, log
        self.proc: subprocess.Popen[bytes] | None = None

    def mount(self, timeout: float = 20, trace: Path | None = None) -> None:
        """Start the daemon; return once the mount answers. ``trace``: see LAZYFS_TRACE."""
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        env = {**os.environ}
        env.pop("LAZYFS_TRACE", None)
        if trace is not None:
            env["LAZYFS_TRACE"] = str(trace)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.lazyfs",
                                          str(self.backing), str(self.mountpoint)],
                                         cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                         env=env)
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.unmount()
                raise AssertionError("lazyfs did not mount:\n" + self.log.read_text())
            time.sleep(0.02)

    def cut(self) -> None:
        """The power cut, now (stop every program using the mount first)."""
        os.setxattr(self.mountpoint, CUT_XATTR, b"")

    def cut_after(self, mutations: int, under: str = "/") -> None:
        """The power cut at the ``mutations``-th changing operation from now (on a path
        under ``under``, a path in the mount such as ``/bundles``)."""
        os.setxattr(self.mountpoint, CUT_AFTER_XATTR, f"{mutations} {under}".encode())

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = json.loads(os.getxattr(self.mountpoint, STATS_XATTR))
        return result

    def unmount(self) -> None:
        """Unmount (lazily if something still holds it) and wait for the daemon."""
        if os.path.ismount(self.mountpoint):
            done = subprocess.run(["fusermount3", "-u", str(self.mountpoint)],
                                  capture_output=True, check=False)
            if done.returncode != 0:
                subprocess.run(["fusermount3", "-uz", str(self.mountpoint)],
                               capture_output=True, check=False)
        if self.proc is not None:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


def main(argv: list[str]) -> int:
    import mfusepy

    backing, mountpoint = Path(argv[0]), Path(argv[1])
    # One thread: operations, syncs and the cut are strictly ordered. hard_remove: an
    # unlinked open file really goes (no .fuse_hidden rename that a directory fsync
    # would make durable).
    mfusepy.FUSE(LazyFS(backing), str(mountpoint), foreground=True, nothreads=True,
                 hard_remove=True, fsname="lazyfs", subtype="lazyfs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
