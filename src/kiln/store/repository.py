"""The chunked, packed, deduplicating store (format: docs/store-format.md).

Blobs are named by the BLAKE3 hash of their uncompressed bytes and typed:
  d  a data chunk (a piece of a file, cut by FastCDC)
  t  a tree (one folder of a snapshot, canonical JSON)
  f  a file list (the chunk ids of one artifact; its id is the hash of the whole file)
Blobs are zstd-compressed (kept raw when that does not pay) and appended to pack files of
about `pack_size` bytes; index files map each blob to its pack, offset and length.

A writer adds packs first and then the index file naming them, so a crash leaves at most a
pack no index names (unreferenced, removed by gc) — never an index entry without its bytes.
"""

from __future__ import annotations

import json
import struct
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import blake3
import orjson
import zstandard

from kiln.errors import StoreError
from kiln.store.backend import Backend

FORMAT_VERSION = 1
PACK_MAGIC = b"KILNPAK1"
_TRAILER = struct.Struct("<I8s")  # header length, magic
BLOB_TYPES = ("d", "t", "f")


class BlobEntry(NamedTuple):
    pack: str
    offset: int
    length: int  # stored bytes
    raw_length: int  # uncompressed bytes
    compressed: bool


# orjson, not the json module: trees and index files are parsed and written on every snapshot
# and orjson is several times faster. Both give the canonical form the format document names
# (sorted keys, no spaces); file names that are not valid UTF-8 (kept by Python as lone
# surrogates, which orjson refuses) fall back to the json module's \u escapes.
def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError: escaped lone surrogates
        return json.loads(data)


@dataclass(frozen=True)
class Config:
    id: str
    chunk_min: int = 256 << 10
    chunk_avg: int = 1 << 20
    chunk_max: int = 4 << 20
    pack_size: int = 16 << 20
    zstd_level: int = 3
    version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=1, sort_keys=True).encode()


def blob_hash(data: bytes | memoryview) -> str:
    return blake3.blake3(data).hexdigest()


def pack_name(pack_id: str) -> str:
    return f"data/{pack_id[:2]}/{pack_id}"


class _OpenPack:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.blobs: list[list[Any]] = []  # [type, id, offset, length, raw_length, compressed]


class Repository:
    """One store. Safe to share between threads; several processes may write at once."""

    def __init__(self, backend: Backend, *, load_index: bool = True) -> None:
        self.backend = backend
        self.config = self._load_config()
        self._lock = threading.Lock()
        self._index: dict[tuple[str, str], BlobEntry] = {}
        self._loaded_indexes: set[str] = set()
        self._pending: dict[tuple[str, str], None] = {}  # in the open pack, not yet written
        self._open = _OpenPack()
        self._unindexed: list[dict[str, Any]] = []  # written packs no index file names yet
        self._tls = threading.local()
        self.auto_index = True  # write an index file every 32 packs (gc turns this off)
        if load_index:
            self.reload_index()

    # --- config and index ------------------------------------------------------------------

    def _load_config(self) -> Config:
        if self.backend.exists("config"):
            raw = json.loads(self.backend.get("config"))
            if raw.get("version") != FORMAT_VERSION:
                raise StoreError(
                    f"the store at {self.backend.url} has format version {raw.get('version')}; "
                    f"this kilnflow reads version {FORMAT_VERSION}",
                    hint="use the kilnflow release that wrote it, or a new KILN_STORE")
            return Config(**raw)
        cfg = Config(id=uuid.uuid4().hex)
        self.backend.put("config", cfg.to_json())
        return cfg

    def reload_index(self) -> None:
        """Read index files written since the last look (by this or another process) and forget
        ones gc has replaced."""
        names = {n.rsplit("/", 1)[1] for n, _ in self.backend.list("index/")}
        new = names - self._loaded_indexes
        dropped = self._loaded_indexes - names
        loaded = {n: self._read_index(n) for n in new}
        with self._lock:
            if dropped:  # gc rewrote the index: start over from the files that exist now
                self._index.clear()
                self._loaded_indexes.clear()
                loaded.update({n: self._read_index(n) for n in names - new})
            for name, packs in loaded.items():
                self._add_index(packs)
                self._loaded_indexes.add(name)

    def _read_index(self, name: str) -> list[dict[str, Any]]:
        data = self.backend.get(f"index/{name}")
        if blob_hash(data) != name:
            raise StoreError(f"index file {name[:12]} is damaged (its hash does not match)",
                             hint="`kiln store rebuild-index` writes the index again from the "
                                  "packs; then `kiln store check --read-data`")
        return list(loads(zstandard.decompress(data))["packs"])

    def _add_index(self, packs: Iterable[dict[str, Any]]) -> None:
        for p in packs:
            for t, bid, off, length, raw, comp in p["blobs"]:
                self._index[(t, bid)] = BlobEntry(p["id"], off, length, raw, bool(comp))

    def replace_index(self, packs: list[dict[str, Any]]) -> None:
        """gc: one new index file for `packs`, then the old index files go. A crash in between
        leaves duplicate entries for the same bytes, which is harmless."""
        old = {n.rsplit("/", 1)[1] for n, _ in self.backend.list("index/")}
        new = self.write_index(packs)
        for name in old - {new}:
            self.backend.delete(f"index/{name}")
        with self._lock:
            self._index.clear()
            self._loaded_indexes = {new}
            self._add_index(packs)

    def write_index(self, packs: list[dict[str, Any]]) -> str:
        data = zstandard.compress(dumps({"version": FORMAT_VERSION, "packs": packs}))
        name = blob_hash(data)
        self.backend.put(f"index/{name}", data)
        with self._lock:
            self._loaded_indexes.add(name)
        return name

    # --- lookups ---------------------------------------------------------------------------

    def has(self, kind: str, blob_id: str) -> bool:
        key = (kind, blob_id)
        return key in self._index or key in self._pending

    def entry(self, kind: str, blob_id: str) -> BlobEntry:
        try:
            return self._index[(kind, blob_id)]
        except KeyError:
            pass
        # Another process (the CLI, a run, the scheduler) may have committed it since this one
        # read the index: a long-lived reader (the server) looks again before calling it lost.
        self.reload_index()
        try:
            return self._index[(kind, blob_id)]
        except KeyError:
            raise StoreError(f"blob {kind}:{blob_id[:12]} is missing from the store at "
                             f"{self.backend.url}",
                             hint="it may have been garbage-collected or damaged; run "
                                  "`kiln store check`") from None

    def entries(self) -> dict[tuple[str, str], BlobEntry]:
        with self._lock:
            return dict(self._index)

    # --- writing ---------------------------------------------------------------------------

    def _compressor(self) -> zstandard.ZstdCompressor:
        c = getattr(self._tls, "zc", None)
        if c is None:  # compressors are not thread-safe; one per thread
            c = self._tls.zc = zstandard.ZstdCompressor(level=self.config.zstd_level)
        return c

    def add(self, kind: str, data: bytes | memoryview,
            blob_id: str | None = None) -> tuple[str, int]:
        """Store a blob unless it is already there. Returns (id, bytes newly stored)."""
        bid = blob_id or blob_hash(data)
        if self.has(kind, bid):
            return bid, 0
        raw_len = len(data)
        packed = self._compressor().compress(data)
        compressed = len(packed) < raw_len - raw_len // 32  # keep raw unless it saves >3%
        body = packed if compressed else bytes(data)
        return bid, self.add_stored(kind, bid, body, raw_len, compressed)

    def add_stored(self, kind: str, bid: str, body: bytes, raw_len: int,
                   compressed: bool) -> int:
        """Append a blob in its stored form (gc uses this to repack without recompressing)."""
        full: _OpenPack | None = None
        with self._lock:
            if (kind, bid) in self._index or (kind, bid) in self._pending:
                return 0  # another thread stored it meanwhile
            op = self._open
            op.blobs.append([kind, bid, op.size, len(body), raw_len, int(compressed)])
            op.parts.append(body)
            op.size += len(body)
            self._pending[(kind, bid)] = None
            if op.size >= self.config.pack_size:
                full, self._open = op, _OpenPack()
        if full is not None:
            self._write_pack(full)
        return len(body)

    def _write_pack(self, op: _OpenPack) -> None:
        header = zstandard.compress(dumps(op.blobs))
        data = b"".join([*op.parts, header, _TRAILER.pack(len(header), PACK_MAGIC)])
        pid = blob_hash(data)
        self.backend.put(pack_name(pid), data)
        record = {"id": pid, "blobs": op.blobs}
        with self._lock:
            self._add_index([record])
            for t, bid, *_ in op.blobs:
                self._pending.pop((t, bid), None)
            self._unindexed.append(record)
            many = self.auto_index and len(self._unindexed) >= 32
            todo = self._unindexed if many else []
            if many:
                self._unindexed = []
        if todo:  # long snapshots write index files as they go, so a crash keeps most work
            self.write_index(todo)

    def flush_packs(self) -> list[dict[str, Any]]:
        """Write the open pack; return every pack record no index file names yet (gc puts
        them into its one new index)."""
        with self._lock:
            op, self._open = self._open, _OpenPack()
        if op.blobs:
            self._write_pack(op)
        with self._lock:
            todo, self._unindexed = self._unindexed, []
        return todo

    def flush(self) -> None:
        """Write the open pack and an index file for every pack written since the last flush.
        Blobs are durable (and visible to other processes) only after this returns."""
        todo = self.flush_packs()
        if todo:
            self.write_index(todo)

    # --- reading ---------------------------------------------------------------------------

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        # One per thread, reused: making a context per blob cost ~16 us, 0.3 s per 20k files.
        d: zstandard.ZstdDecompressor | None = getattr(self._tls, "zd", None)
        if d is None:
            d = self._tls.zd = zstandard.ZstdDecompressor()
        return d

    def read_stored(self, kind: str, blob_id: str, entry: BlobEntry | None = None) -> bytes:
        """A blob's bytes as stored in its pack (maybe compressed)."""
        e = entry or self.entry(kind, blob_id)
        raw = self.backend.get(pack_name(e.pack), e.offset, e.length)
        if len(raw) != e.length:
            raise StoreError(f"pack {e.pack[:12]} is truncated (blob {kind}:{blob_id[:12]})",
                             hint="run `kiln store check` to see what it affects")
        return raw

    def read(self, kind: str, blob_id: str, *, verify: bool = True) -> bytes:
        e = self.entry(kind, blob_id)
        raw = self.read_stored(kind, blob_id, e)
        try:
            data = self._decompressor().decompress(raw, max_output_size=e.raw_length) \
                if e.compressed else raw
        except zstandard.ZstdError as err:
            raise StoreError(f"blob {kind}:{blob_id[:12]} in pack {e.pack[:12]} is damaged "
                             f"({err})", hint="run `kiln store check --read-data`") from err
        if verify and blob_hash(data) != blob_id and kind != "f":
            raise StoreError(f"blob {kind}:{blob_id[:12]} in pack {e.pack[:12]} is damaged "
                             "(its content does not match its hash)",
                             hint="run `kiln store check --read-data` to see what it affects")
        return data

    def read_json(self, kind: str, blob_id: str) -> Any:
        return loads(self.read(kind, blob_id))

    def add_json(self, kind: str, value: Any) -> tuple[str, int]:
        return self.add(kind, dumps(value))

    # --- packs, for check and gc -----------------------------------------------------------

    def packs(self) -> Iterator[tuple[str, int]]:
        for name, size in self.backend.list("data/"):
            yield name.rsplit("/", 1)[1], size

    def pack_header(self, pack_id: str, size: int) -> list[list[Any]]:
        """The blob list a pack carries at its end (so the index can be rebuilt from packs)."""
        tail = self.backend.get(pack_name(pack_id), max(0, size - _TRAILER.size))
        if len(tail) != _TRAILER.size:
            raise StoreError(f"pack {pack_id[:12]} is truncated")
        hlen, magic = _TRAILER.unpack(tail)
        if magic != PACK_MAGIC or hlen > size:
            raise StoreError(f"pack {pack_id[:12]} has no valid header")
        head = self.backend.get(pack_name(pack_id), size - _TRAILER.size - hlen, hlen)
        try:
            return list(loads(zstandard.decompress(head)))
        except (zstandard.ZstdError, ValueError) as e:
            raise StoreError(f"pack {pack_id[:12]} has a damaged header ({e})") from e
