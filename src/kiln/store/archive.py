"""Folders in and out of the store: snapshot a directory into trees, restore, diff, read.

A tree is one folder: canonical JSON `{"nodes": [...]}` sorted by name, stored as a `t` blob.
Files list their chunk ids; folders name their subtree. Files whose size, mtime and inode match
the parent snapshot reuse its chunk list without being read. Files are read, chunked, hashed and
compressed on a thread pool (blake3 and zstd release the GIL, so both cores work) while the walk
goes on; each folder's tree is stored once its files are read, a bounded distance behind the walk.
"""

from __future__ import annotations

import io
import mmap
import os
import stat
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.errors import StoreError
from kiln.store.repository import Repository

Progress = Callable[[int], None]  # called with bytes processed


@dataclass
class ArchiveStats:
    files: int = 0
    dirs: int = 0
    bytes: int = 0  # total size of the files
    new_bytes: int = 0  # bytes added to the store (after dedup and compression)
    reused_files: int = 0  # unchanged since the parent snapshot: not read again
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def _workers() -> int:
    return max(2, min(8, (os.cpu_count() or 2)))


def chunk_file(repo: Repository, path: str | os.PathLike[str], size: int,
               pool: ThreadPoolExecutor | None = None) -> tuple[list[str], int]:
    """Store a file's chunks; returns (chunk ids, bytes newly stored). With `pool`, chunks
    are hashed and compressed on its threads (one large file then uses every core)."""
    cfg = repo.config
    with open(path, "rb") as f:
        if size <= cfg.chunk_min:
            data = f.read()
            if not data:
                return [], 0
            bid, new = repo.add("d", data)
            return [bid], new
        import fastcdc  # imported here: it pulls in click, which most commands never need

        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mm)
        futs: list[Future[tuple[str, int]]] = []
        try:
            cuts = fastcdc.fastcdc(view, cfg.chunk_min, cfg.chunk_avg, cfg.chunk_max,
                                   fat=False)
            if pool is None:
                results = [repo.add("d", view[c.offset:c.offset + c.length]) for c in cuts]
            else:
                futs = [pool.submit(repo.add, "d", view[c.offset:c.offset + c.length])
                        for c in cuts]
                results = [fu.result() for fu in futs]
        except BaseException:
            for fu in futs:  # a failed write (a full disk): no thread may still read the map
                fu.cancel()
            wait(futs)
            raise
        finally:
            try:
                view.release()
                mm.close()
            except BufferError:
                # the failing write's traceback still holds a slice of the map: it closes
                # when that goes, and the caller sees the real error, not this one
                pass
        return [bid for bid, _ in results], sum(n for _, n in results)


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


@dataclass
class _Folder:
    """A folder as the walk left it: its entries, some still being read on the pool, until
    its tree is stored."""

    rel: str
    parent_tree: str | None
    before: dict[str, dict[str, Any]]
    entries: list[tuple[dict[str, Any], Future[tuple[list[str], int]] | _Folder | None]]
    tree: str | None = None


# How far the walk may run ahead of the file reads: folders walked whose trees are not yet
# stored, and file reads handed out and not yet collected. Bounds memory on a first snapshot of
# millions of files, and is never reached by a later one that reads few files.
_AHEAD_FOLDERS = 64
_AHEAD_FILES = 512


class _Archiver:
    """The walk stats every entry and hands changed files to the pool without waiting for
    them; a folder's tree is stored later, oldest walked first, once the walk is far enough
    ahead (or at the end). The walk is post-order, so a folder's subfolders always have their
    trees by then. The stat of 20k cold inodes and the reading of a large changed file then
    overlap instead of taking turns."""

    def __init__(self, repo: Repository, progress: Progress | None) -> None:
        self.repo = repo
        self.progress = progress or (lambda n: None)
        self.stats = ArchiveStats()
        self.pool = ThreadPoolExecutor(_workers(), thread_name_prefix="kiln-snap")
        self.walked: deque[_Folder] = deque()  # post-order: children before their parent
        self.reads = 0  # file reads handed out and not yet collected

    def _parent_nodes(self, tree_id: str | None) -> dict[str, dict[str, Any]]:
        if not tree_id:
            return {}
        return {n["name"]: n for n in self.repo.read_json("t", tree_id)["nodes"]}

    def walk(self, path: Path, rel: str, parent_tree: str | None) -> _Folder:
        """Stat one folder and, recursively, its subfolders; changed files go to the pool."""
        before = self._parent_nodes(parent_tree)
        folder = _Folder(rel, parent_tree, before, [])
        pending = folder.entries
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as e:
            self.stats.skipped.append((rel or ".", e.strerror or str(e)))
            entries = []
        for entry in entries:
            name = entry.name
            where = f"{rel}/{name}" if rel else name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                self.stats.skipped.append((where, e.strerror or str(e)))
                continue
            old = before.get(name)
            if old is not None and old["type"] == "file" and stat.S_ISREG(st.st_mode) and \
                    old["mtime"] == st.st_mtime_ns and old["size"] == st.st_size and \
                    old.get("inode") == st.st_ino and old["mode"] == stat.S_IMODE(st.st_mode):
                self.stats.files += 1  # unchanged since the parent: reuse its node, unread
                self.stats.bytes += st.st_size
                self.stats.reused_files += 1
                self.progress(st.st_size)
                pending.append((old, None))
                continue
            node: dict[str, Any] = {"name": name, "mode": stat.S_IMODE(st.st_mode),
                                    "mtime": st.st_mtime_ns}
            if stat.S_ISLNK(st.st_mode):
                node.update(type="symlink", target=os.readlink(entry.path))
                pending.append((node, None))
            elif stat.S_ISDIR(st.st_mode):
                sub = old["subtree"] if old and old["type"] == "dir" else None
                node.update(type="dir")
                self.stats.dirs += 1
                pending.append((node, self.walk(Path(entry.path), where, sub)))
            elif stat.S_ISREG(st.st_mode):
                node.update(type="file", size=st.st_size, inode=st.st_ino)
                self.stats.files += 1
                self.stats.bytes += st.st_size
                if old and old["type"] == "file" and \
                        (old["size"], old["mtime"], old.get("inode")) == _stat_key(st):
                    node["chunks"] = old["chunks"]
                    self.stats.reused_files += 1
                    self.progress(st.st_size)
                    pending.append((node, None))
                else:
                    pending.append((node, self.pool.submit(self._file, entry.path, st.st_size)))
                    self.reads += 1
            else:
                self.stats.skipped.append((where, "not a regular file, folder or symlink"))
        self.walked.append(folder)
        while self.walked and (len(self.walked) > _AHEAD_FOLDERS or self.reads > _AHEAD_FILES):
            self.store_tree(self.walked.popleft())
        return folder

    def finish(self, top: _Folder) -> str:
        while self.walked:
            self.store_tree(self.walked.popleft())
        assert top.tree is not None
        return top.tree

    def store_tree(self, folder: _Folder) -> None:
        """Store a walked folder's tree once its files are read (its subfolders' trees are
        stored already); then only its tree id is kept."""
        nodes = []
        for node, later in folder.entries:
            if isinstance(later, _Folder):
                node["subtree"] = later.tree
            elif later is not None:
                self.reads -= 1
                try:
                    node["chunks"], new = later.result()
                    self.stats.new_bytes += new
                except OSError as e:
                    self.stats.files -= 1
                    self.stats.bytes -= node["size"]
                    rel = folder.rel
                    self.stats.skipped.append((f"{rel}/{node['name']}" if rel else node["name"],
                                               e.strerror or str(e)))
                    continue
            nodes.append(node)
        before, parent_tree = folder.before, folder.parent_tree
        folder.entries, folder.before = [], {}
        if parent_tree and len(nodes) == len(before) and \
                all(a is b or a == b for a, b in zip(nodes, before.values(), strict=True)):
            folder.tree = parent_tree  # nothing changed in this folder: the parent's tree
            return
        folder.tree, new = self.repo.add_json("t", {"nodes": nodes})
        self.stats.new_bytes += new

    def _file(self, path: str, size: int) -> tuple[list[str], int]:
        out = chunk_file(self.repo, path, size)
        self.progress(size)
        return out


def archive(repo: Repository, root: Path, parent_tree: str | None = None, *,
            progress: Progress | None = None) -> tuple[str, ArchiveStats]:
    """Store the folder `root`; returns its tree id. The caller records the snapshot only after
    this returns, so an interrupted archive leaves nothing listed (gc frees its blobs)."""
    a = _Archiver(repo, progress)
    try:
        tree = a.finish(a.walk(root, "", parent_tree))
        repo.flush()
    finally:
        a.pool.shutdown(wait=True, cancel_futures=True)
    return tree, a.stats


# --- reading trees ------------------------------------------------------------------------


def walk(repo: Repository, tree_id: str, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, node) for every entry below a tree, parents before children."""
    for node in repo.read_json("t", tree_id)["nodes"]:
        path = f"{prefix}{node['name']}"
        yield path, node
        if node["type"] == "dir":
            yield from walk(repo, node["subtree"], path + "/")


def find(repo: Repository, tree_id: str, path: str) -> dict[str, Any]:
    """The node at `path` ('a/b.csv') in a tree."""
    parts = [p for p in path.strip("/").split("/") if p]
    node: dict[str, Any] = {"type": "dir", "subtree": tree_id, "name": ""}
    for i, part in enumerate(parts):
        if node["type"] != "dir":
            break
        nodes = {n["name"]: n for n in repo.read_json("t", node["subtree"])["nodes"]}
        if part not in nodes:
            here = "/".join(parts[:i]) or "the top folder"
            close = ", ".join(sorted(nodes)[:8]) or "nothing"
            raise StoreError(f"'{path}' is not in the snapshot",
                             hint=f"{here} holds: {close}")
        node = nodes[part]
    return node


def tree_size(repo: Repository, tree_id: str) -> tuple[int, int]:
    """(files, bytes) below a tree."""
    files = size = 0
    for _, n in walk(repo, tree_id):
        if n["type"] == "file":
            files += 1
            size += n["size"]
    return files, size


class SnapshotFile(io.RawIOBase):
    """A file inside a snapshot, readable and seekable without restoring anything else."""

    def __init__(self, repo: Repository, node: dict[str, Any]) -> None:
        self.repo = repo
        self.chunks: list[str] = node["chunks"]
        self.starts: list[int] = []
        pos = 0
        for c in self.chunks:
            self.starts.append(pos)
            pos += repo.entry("d", c).raw_length
        self.size = pos
        self.pos = 0
        self._cache: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def _chunk(self, i: int) -> bytes:
        if self._cache is None or self._cache[0] != i:
            self._cache = (i, self.repo.read("d", self.chunks[i]))
        return self._cache[1]

    def readinto(self, buf: Any) -> int:
        import bisect

        if self.pos >= self.size:
            return 0
        i = bisect.bisect_right(self.starts, self.pos) - 1
        data = self._chunk(i)
        off = self.pos - self.starts[i]
        n = min(len(buf), len(data) - off)
        buf[:n] = data[off:off + n]
        self.pos += n
        return n


# --- restore ------------------------------------------------------------------------------


def write_file(repo: Repository, chunks: list[str], dest: Path | str,
               meta: tuple[int, int] | None = None, *, verify: bool = True) -> int:
    """Write a file from its chunks via a temp name: a damaged chunk leaves no partial file.
    `meta`: (mode, mtime ns) for it. `verify=False`: the chunks were checked already."""
    dest = str(dest)
    head, tail = os.path.split(dest)
    tmp = os.path.join(head, f".{tail}.kiln-{uuid.uuid4().hex[:8]}")
    _write_chunks(repo, chunks, tmp, meta, exclusive=True, verify=verify)
    os.replace(tmp, dest)
    return os.path.getsize(dest)


def _write_chunks(repo: Repository, chunks: list[str], path: str,
                  meta: tuple[int, int] | None = None, *, exclusive: bool = False,
                  verify: bool = True) -> None:
    """Write `path` from chunks, each checked against its hash first; on any error the file
    is removed, so no bad or partial data is left behind. `meta`: (mode, mtime ns) to set
    through the open descriptor (no second path lookup per file). `exclusive`: fail if
    something is already at `path`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o666)
    except FileExistsError:
        raise StoreError(f"cannot restore {path}: something else appeared in its place") \
            from None
    try:
        try:
            for c in chunks:
                data = repo.read("d", c, verify=verify)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            if meta is not None:
                os.fchmod(fd, meta[0])
                os.utime(fd, ns=(meta[1], meta[1]))
        finally:
            os.close(fd)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


def _restore_workers() -> int:
    # one writer per core: measured on 2 cores, 2 threads restored 20k files + 0.8 GB in
    # 6.6-8.0 s, 4 threads in 8.6-9.1 s (more writers only contend for the GIL and the disk)
    return max(2, min(8, os.cpu_count() or 2))


def restore(repo: Repository, tree_id: str, dest: Path, *,
            progress: Progress | None = None, keep_matching: bool = False,
            verify: bool = True) -> int:
    """Write a tree's files under `dest` (which must exist). Returns the number of files.

    Files are written in the order their first chunk sits in the packs, so reads from a cold
    store are sequential; each is written through a temp name and renamed into place.
    `keep_matching`: leave a file that is there with the node's size and mtime as it is —
    the test snapshots use to reuse a file — so bringing a folder from one version to the
    next writes only what changed."""
    progress = progress or (lambda n: None)
    base = str(dest)
    # Into an empty folder (the usual restore) nothing can be in a file's way: skip the
    # lookups per file that check.
    with os.scandir(base) as entries_of_dest:
        fresh = next(entries_of_dest, None) is None
    files: list[tuple[str, dict[str, Any]]] = []
    dirs: list[tuple[str, dict[str, Any]]] = []
    for path, node in walk(repo, tree_id):
        target = os.path.join(base, path)
        if node["type"] == "dir":
            os.makedirs(target, exist_ok=True)
            dirs.append((target, node))
        elif node["type"] == "symlink":
            if os.path.lexists(target):
                os.unlink(target)
            os.symlink(node["target"], target)
        else:
            if keep_matching and not fresh and _matches(target, node):
                continue
            files.append((target, node))

    def one(target: str, node: dict[str, Any]) -> None:
        meta = (node["mode"], node["mtime"])
        # Every file is written under a temp name and renamed into place, so a restore
        # killed at any point leaves only whole files under their names.
        if not fresh and (os.path.islink(target) or os.path.isdir(target)):
            raise StoreError(f"cannot restore {target}: something else is in its place")
        write_file(repo, node["chunks"], target, meta, verify=verify)
        progress(node["size"])

    def batch(items: list[tuple[str, dict[str, Any]]]) -> None:
        for target, node in items:
            one(target, node)

    entries = repo.entries()

    def position(item: tuple[str, dict[str, Any]]) -> tuple[str, int]:
        chunks = item[1]["chunks"]
        e = entries.get(("d", chunks[0])) if chunks else None
        return (e.pack, e.offset) if e else ("", 0)

    files.sort(key=position)
    # Small files go to the threads in runs of neighbours (up to 64 files or 4 MiB): a future
    # per file cost more than writing a 10 KB file, and a run keeps reads in pack order.
    batches: list[list[tuple[str, dict[str, Any]]]] = []
    size = 0
    for item in files:
        if not batches or len(batches[-1]) >= 64 or size >= 4 << 20:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += item[1]["size"]
    with ThreadPoolExecutor(_restore_workers(), thread_name_prefix="kiln-restore") as pool:
        for fut in [pool.submit(batch, b) for b in batches]:
            fut.result()
    for target, node in reversed(dirs):  # children first: writing into a folder moves its mtime
        os.chmod(target, node["mode"])
        os.utime(target, ns=(node["mtime"], node["mtime"]))
    return len(files)


def _matches(target: str, node: dict[str, Any]) -> bool:
    try:
        st = os.lstat(target)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == node["size"] and \
        st.st_mtime_ns == node["mtime"]


# --- diff ---------------------------------------------------------------------------------


@dataclass
class Change:
    path: str
    kind: str  # added, removed, modified
    size_before: int
    size_after: int


def diff(repo: Repository, a: str | None, b: str | None, prefix: str = "") -> Iterator[Change]:
    """What changed from tree `a` to tree `b`; identical subtrees are skipped unread."""
    if a == b:
        return
    na = {n["name"]: n for n in repo.read_json("t", a)["nodes"]} if a else {}
    nb = {n["name"]: n for n in repo.read_json("t", b)["nodes"]} if b else {}
    for name in sorted(na.keys() | nb.keys()):
        x, y = na.get(name), nb.get(name)
        path = prefix + name
        if x and y and x["type"] == "dir" and y["type"] == "dir":
            yield from diff(repo, x["subtree"], y["subtree"], path + "/")
            continue
        if x and x["type"] == "dir":
            yield from diff(repo, x["subtree"], None, path + "/")
            x = None
        if y and y["type"] == "dir":
            yield from diff(repo, None, y["subtree"], path + "/")
            y = None
        if x is None and y is None:
            continue
        if x is None:
            yield Change(path, "added", 0, y.get("size", 0))  # type: ignore[union-attr]
        elif y is None:
            yield Change(path, "removed", x.get("size", 0), 0)
        elif x.get("chunks") != y.get("chunks") or x.get("target") != y.get("target") \
                or x["type"] != y["type"]:
            yield Change(path, "modified", x.get("size", 0), y.get("size", 0))
