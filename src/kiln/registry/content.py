"""What a bucket version is made of, and how its pieces travel.

A version's manifest names its roots: snapshot trees, or artifacts (their `f` blobs). Its
closure is every blob those reach — trees, file lists, data chunks — listed trees first, so a
receiver that stops half-way has the structure of what it holds. Pieces travel in packs in
the store's own pack format (blobs as stored, possibly zstd-compressed, then the header),
so the sender copies stored bytes without recompressing and the receiver appends them to its
own packs the same way; each is checked against its id on arrival.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import zstandard

from kiln.errors import StoreError, UserError
from kiln.store.repository import PACK_MAGIC, Repository, blob_hash, dumps, loads

_TRAILER = struct.Struct("<I8s")
# Store settings two stores must share for content to be shared without storing it twice:
# the same file cut with other parameters gives other chunks.
IDENTITY = ("chunk_min", "chunk_avg", "chunk_max")
MAX_PACK = 64 << 20  # the most one pack request may ask for (stored bytes)


def store_params(repo: Repository) -> dict[str, int]:
    return {k: int(getattr(repo.config, k)) for k in IDENTITY}


def check_params(theirs: dict[str, Any], ours: dict[str, int], *, peer: str) -> None:
    """Refuse a peer that chunks differently: every shared byte would be stored again."""
    differ = {k: (theirs.get(k), ours[k]) for k in IDENTITY if theirs.get(k) != ours[k]}
    if differ:
        said = ", ".join(f"{k} {a} there, {b} here" for k, (a, b) in differ.items())
        raise UserError(f"{peer} chunks its store differently ({said}): its content would be "
                        "stored here a second time instead of shared", where="chunking",
                        hint="sync between stores made with the same chunking, or restore "
                             "the version there and snapshot it here to re-chunk explicitly")


def closure(repo: Repository, manifest: dict[str, Any]) -> list[tuple[str, str, int]]:
    """Every blob a version reaches, as (kind, id, stored length): trees and file lists
    first, then data chunks."""
    seen: set[tuple[str, str]] = set()
    structure: list[tuple[str, str]] = []
    chunks: list[tuple[str, str]] = []

    def add(kind: str, bid: str, into: list[tuple[str, str]]) -> bool:
        if (kind, bid) in seen:
            return False
        seen.add((kind, bid))
        into.append((kind, bid))
        return True

    trees = list(manifest.get("trees", []))
    while trees:
        tree = trees.pop()
        if not add("t", tree, structure):
            continue
        for node in repo.read_json("t", tree)["nodes"]:
            if node["type"] == "dir":
                trees.append(node["subtree"])
            elif node["type"] == "file":
                for c in node.get("chunks", []):
                    add("d", c, chunks)
    for art in manifest.get("artifacts", []):
        if add("f", art["digest"], structure):
            for c in repo.read_json("f", art["digest"]):
                add("d", c, chunks)
    return [(k, b, repo.entry(k, b).length) for k, b in structure + chunks]


def build_pack(repo: Repository, ids: list[tuple[str, str]]) -> bytes:
    """The blobs as stored, in one pack: what a receiver appends to its own store."""
    parts: list[bytes] = []
    header: list[list[Any]] = []
    offset = 0
    for kind, bid in ids:
        e = repo.entry(kind, bid)
        body = repo.read_stored(kind, bid, e)
        header.append([kind, bid, offset, len(body), e.raw_length, int(e.compressed)])
        parts.append(body)
        offset += len(body)
    head = zstandard.compress(dumps(header))
    return b"".join([*parts, head, _TRAILER.pack(len(head), PACK_MAGIC)])


@dataclass(frozen=True)
class Piece:
    kind: str
    id: str
    body: bytes  # as stored
    raw_length: int
    compressed: bool


def read_pack(data: bytes, *, peer: str) -> list[Piece]:
    """A received pack's pieces; StoreError when it is not a well-formed pack."""
    bad = StoreError(f"{peer} sent something that is not a pack", where=peer,
                     hint="is it a kilnflow server of the same version?")
    if len(data) < _TRAILER.size:
        raise bad
    hlen, magic = _TRAILER.unpack(data[-_TRAILER.size:])
    if magic != PACK_MAGIC or hlen > len(data) - _TRAILER.size:
        raise bad
    try:
        header = loads(zstandard.decompress(data[-_TRAILER.size - hlen:-_TRAILER.size]))
    except (zstandard.ZstdError, ValueError):
        raise bad from None
    out = []
    for kind, bid, offset, length, raw_length, compressed in header:
        if offset + length > len(data) - _TRAILER.size - hlen:
            raise bad
        out.append(Piece(kind, bid, data[offset:offset + length], int(raw_length),
                         bool(compressed)))
    return out


def verify(piece: Piece) -> bool:
    """Whether a received piece is what its id says: a tree's or chunk's bytes must hash to
    it. A file list is named by the file it lists, so it is checked once its chunks are
    here (verify_file_list)."""
    try:
        raw = zstandard.ZstdDecompressor().decompress(piece.body, max_output_size=max(
            piece.raw_length, 1)) if piece.compressed else piece.body
    except zstandard.ZstdError:
        return False
    if len(raw) != piece.raw_length:
        return False
    if piece.kind == "f":
        try:
            return isinstance(loads(raw), list)
        except ValueError:
            return False
    return blob_hash(raw) == piece.id


def verify_file_list(repo: Repository, digest: str) -> bool:
    """An artifact's chunks, read back here, hash to the artifact's id."""
    import blake3

    h = blake3.blake3()
    for c in repo.read_json("f", digest):
        h.update(repo.read("d", c))
    return h.hexdigest() == digest
