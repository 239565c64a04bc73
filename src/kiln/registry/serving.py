"""The sending side of sync, the same for a peer over HTTP (kiln.server.registry) and for a
namespace of this installation (peers.LocalSource): a version's manifest, its closure, and
packs of the pieces asked for — only pieces of that version, to a caller who may read it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from kiln.errors import UserError
from kiln.identity.model import Principal, identity_catalog
from kiln.registry import buckets, content

if TYPE_CHECKING:
    from kiln.runtime import Runtime
    from kiln.store.repository import Repository

# Closures of recent versions (versions never change): a sync asks for many packs of one.
_CLOSURES: OrderedDict[tuple[str, str, int, str], list[tuple[str, str, int]]] = OrderedDict()
_LOCK = threading.Lock()


def _repo(rt: Runtime, namespace: str) -> Repository:
    from kiln.runtime import Runtime as RT

    here = rt if rt.home.namespace == namespace else RT.open(rt.home.for_namespace(namespace))
    return here.store.repo


def bucket_info(rt: Runtime, ref: str, who: Principal) -> dict[str, Any]:
    b = buckets.get(identity_catalog(rt), ref, who)
    return b.to_dict()


def version_info(rt: Runtime, ref: str, who: Principal, number: str | int | None
                 ) -> dict[str, Any]:
    reg = identity_catalog(rt)
    b = buckets.get(reg, ref, who)
    v = buckets.version(reg, b, number)
    return {**v.to_dict(manifest=True), "bucket": b.ref, "head": b.head}


def closure(rt: Runtime, ref: str, who: Principal, number: str | int | None
            ) -> list[tuple[str, str, int]]:
    return _version_closure(rt, ref, who, number)[1]


def _version_closure(rt: Runtime, ref: str, who: Principal, number: str | int | None
                     ) -> tuple[buckets.Version, list[tuple[str, str, int]]]:
    """The version (checked readable by `who`) and every piece it reaches."""
    reg = identity_catalog(rt)
    b = buckets.get(reg, ref, who)
    v = buckets.version(reg, b, number)
    key = (str(rt.home.base), b.ref, v.number, str(b.created_at))
    with _LOCK:
        if key in _CLOSURES:
            _CLOSURES.move_to_end(key)
            return v, _CLOSURES[key]
    repo = _repo(rt, v.namespace)
    repo.reload_index()
    found = content.closure(repo, v.manifest)
    with _LOCK:
        _CLOSURES[key] = found
        while len(_CLOSURES) > 32:
            _CLOSURES.popitem(last=False)
    return v, found


def pack(rt: Runtime, ref: str, who: Principal, number: str | int | None,
         ids: list[tuple[str, str]]) -> bytes:
    """The asked-for pieces of one version. Anything else is refused without saying whether
    this store has it: a version is all a reader of it may fetch."""
    v, listed = _version_closure(rt, ref, who, number)
    allowed = {(k, b): n for k, b, n in listed}
    wanted = [(str(k), str(b)) for k, b in ids]
    if any(w not in allowed for w in wanted):
        raise UserError("asked for pieces that are not part of this version", where="ids",
                        hint="ask only for ids the version's blob list names")
    if sum(allowed[w] for w in wanted) > content.MAX_PACK:
        raise UserError(f"asked for more than {content.MAX_PACK >> 20} MB in one pack",
                        where="ids", hint="ask in smaller batches")
    return content.build_pack(_repo(rt, v.namespace), wanted)
