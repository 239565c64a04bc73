"""Typed values <-> files: one registry of codecs, chosen by type, versioned on disk."""

from kiln.marshal.codec import Codec
from kiln.marshal.registry import (
    ArtifactRef,
    CodecRegistry,
    default_registry,
    register_codec,
    type_name,
)

__all__ = ["ArtifactRef", "Codec", "CodecRegistry", "default_registry", "register_codec",
           "type_name"]
