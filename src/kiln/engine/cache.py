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
    dists = sorted({f"{d.metadata['Name']}=={d.version}".lower()
                    for d in importlib.metadata.distributions() if d.metadata["Name"]})
    return hash_json([sys.version, sys.platform, dists])


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
