"""Cache keys: a step's identity is the hash of its code, inputs, parameters and environment.

The same key means the same computation, so its outputs can be reused instead of running it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import sys
from typing import Any

from kiln.hashing import hash_json, hash_text
from kiln.marshal.registry import ArtifactRef
from kiln.spec.model import PipelineSpec, StepSpec

KEY_VERSION = 1


@functools.lru_cache(maxsize=1)
def environment_fingerprint() -> str:
    """Python version plus every installed distribution and its version."""
    dists = set()
    for d in importlib.metadata.distributions():
        name, version = _name_version(d)
        if name:
            dists.add(f"{name}=={version}".lower())
    return hash_json([sys.version, sys.platform, sorted(dists)])


def _name_version(d: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    """Name and Version from the metadata's first header lines. Read by hand: the email
    parser `d.metadata` uses took ~0.25 s over 250 distributions, most of a one-step run's
    wall time; the two headers come out the same."""
    text = d.read_text("METADATA") or d.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first empty line
        if name is None and line.startswith("Name:"):
            name = line[5:].strip()
        elif version is None and line.startswith("Version:"):
            version = line[8:].strip()
    return name, version


def code_hash(spec: PipelineSpec, step: StepSpec) -> str:
    if step.kind == "function" and step.function is not None:
        return step.function.source_hash
    parts = [c.source for c in step.cells]
    if step.kind == "cells":  # the imports/functions cells run before every step
        parts = [c.source for c in spec.prelude] + ["\0"] + parts
    return hash_text("\n".join(parts))


def cache_key(spec: PipelineSpec, step: StepSpec, inputs: dict[str, ArtifactRef],
              values: dict[str, Any]) -> str:
    """`values` are the parameter and literal values the step reads."""
    return hash_json({
        "v": KEY_VERSION,
        "kind": step.kind,
        "code": code_hash(spec, step),
        "inputs": {k: [r.digest, r.codec, r.codec_version] for k, r in sorted(inputs.items())},
        "values": values,
        "outputs": step.outputs,
        "env": environment_fingerprint(),
    })
