"""Model sources: a run artifact (`RUN/STEP/NAME`), a file or folder, or `file.py:Class`.

Formats are recognised from the artifact's codec or the file's suffix; a folder holds one
model file named as KServe's runtimes expect (model.joblib, model.bst, model.pt, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.errors import KilnError, ModelError
from kiln.files import import_file
from kiln.marshal.registry import ArtifactRef
from kiln.serving.predictors import Predictor, predictor_for

_PICKLE = (".joblib", ".pkl", ".pickle")
_XGB = (".ubj", ".bst", ".xgb", ".json")
_LGB = (".txt", ".lgb")
_TORCH = (".pt", ".pth", ".pt2")
MODEL_SUFFIXES = _PICKLE + _XGB + _LGB + _TORCH


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from, as the user wrote it, and what it resolved to."""

    text: str
    kind: str  # artifact, file, class
    path: Path | None = None
    artifact: ArtifactRef | None = None  # for run artifacts: digest and codec


def default_name(text: str) -> str:
    """A model name from a MODEL argument: the class, the output's name, the registered
    model's name, or the file's stem."""
    if text.startswith("models:/"):
        return text[len("models:/"):].split("@")[0].split("/")[0]
    if ".py:" in text:
        stem = text.rsplit(":", 1)[1].rsplit(".", 1)[-1]
    else:
        stem = Path(text.rstrip("/")).name.split(".")[0]
    name = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")
    return name if name[:1].isalpha() else f"model-{name}".rstrip("-")


def resolve(text: str) -> ModelSource:
    """Decide what a MODEL argument names, without loading it."""
    if text.startswith("models:/"):
        return registered(text)
    if ":" in text and text.rsplit(":", 1)[0].endswith(".py"):
        file = Path(text.rsplit(":", 1)[0])
        if not file.is_file():
            raise ModelError(f"no such file: {file}", where=text)
        return ModelSource(text, "class", file.resolve())
    path = Path(text).expanduser()
    if path.exists():
        return ModelSource(text, "file", path.resolve())
    parts = text.split("/")
    if len(parts) == 3 and all(parts) and not text.startswith((".", "/", "~")):
        return _artifact(text, *parts)
    raise ModelError(
        f"'{text}' is neither a file, a folder, RUN/STEP/NAME nor file.py:Class",
        hint="e.g. `kiln serve latest/train/model`, `kiln serve model.joblib` or "
             "`kiln serve predictor.py:Model`")


def registered(text: str, rt: Any = None) -> ModelSource:
    """models:/NAME, models:/NAME/VERSION or models:/NAME@ALIAS: a registered model's
    version, resolved now (a server started from an alias follows it on `kiln serve update`)."""
    from kiln.registry import models
    from kiln.runtime import Runtime

    rt = rt or Runtime.open()
    mv = models.resolve(rt.catalog, text)
    return ModelSource(text, "artifact", rt.store.local_path(mv.artifact.digest), mv.artifact)


def resolve_artifact(text: str, rt: Any = None) -> ModelSource:
    """Only RUN/STEP/OUTPUT or a registered model, in `rt`'s namespace: what a REST caller
    may serve (a file path or a `file.py:Class` would let it read or run any file of the
    server's machine)."""
    if text.startswith("models:/"):
        return registered(text, rt)
    parts = text.split("/")
    if len(parts) != 3 or not all(parts):
        raise ModelError(f"'{text}' is not RUN/STEP/OUTPUT", where="model",
                         hint="e.g. 054d182d/train/model: a run's id, the step and its output")
    run, step, name = parts
    return _artifact(text, run, step, name, rt=rt)


def _artifact(text: str, run: str, step: str, name: str, rt: Any = None) -> ModelSource:
    from kiln.catalog.runs import find_output
    from kiln.runtime import Runtime

    rt = rt or Runtime.open()
    ref = find_output(rt.catalog, run, step, name)
    return ModelSource(text, "artifact", rt.store.local_path(ref.digest), ref)


# Libraries whose objects `kiln serve` loads by their type (serving.predictors).
_MODEL_LIBRARIES = ("sklearn", "xgboost", "lightgbm", "torch", "catboost")


def model_outputs(outputs: dict[str, dict[str, ArtifactRef]]) -> list[str]:
    """`STEP/NAME` of the outputs that hold a model kiln serve can load, from {step: {name:
    artifact}} in step order: the ones whose type comes from a model library."""
    return [f"{step}/{name}" for step, named in outputs.items() for name, ref in named.items()
            if ref.type_name.split(".")[0] in _MODEL_LIBRARIES]


def models_of_run(cat: Any, run_id: str | None) -> list[str]:
    """`STEP/NAME` of a run's outputs that kiln serve can load (none for no run); with the
    run's id in front they are what `kiln serve` takes."""
    if not run_id:
        return []
    from kiln.catalog.runs import get_run

    run = get_run(cat, run_id)  # with its events: they hold the outputs
    return model_outputs({t.step: t.outputs for t in run.tasks})


def load(source: ModelSource | str) -> Predictor:
    """Load a model and wrap it in its predictor; any failure is a ModelError with the reason."""
    src = resolve(source) if isinstance(source, str) else source
    try:
        obj = _load_object(src)
        return predictor_for(obj)
    except KilnError:
        raise
    except Exception as e:
        raise ModelError(f"cannot load model {src.text}: {type(e).__name__}: {e}",
                         where=str(src.path or src.text)) from None


def _load_object(src: ModelSource) -> Any:
    assert src.path is not None
    if src.kind == "artifact":
        from kiln.marshal.registry import default_registry
        from kiln.runtime import Runtime

        assert src.artifact is not None
        return default_registry.load(src.artifact, Runtime.open().store)
    if src.kind == "class":
        return _load_class(src.path, src.text.rsplit(":", 1)[1])
    path = src.path
    if path.is_dir():
        path = find_model_file(path)
    return load_file(path)


def find_model_file(folder: Path) -> Path:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in MODEL_SUFFIXES)
    if len(files) == 1:
        return files[0]
    named = [p for p in files if p.stem == "model"]
    if len(named) == 1:
        return named[0]
    if not files:
        raise ModelError(f"{folder} holds no model file",
                         hint=f"put one file ending in {', '.join(MODEL_SUFFIXES)} there")
    raise ModelError(f"{folder} holds several model files: {', '.join(p.name for p in files)}",
                     hint="name the file to serve, or keep one called model.*")


def load_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix in _PICKLE:
        import joblib

        return joblib.load(path)  # joblib reads plain pickles too
    if suffix in _TORCH:
        import warnings

        import torch

        if suffix == ".pt2":  # torch.export's format, the successor of TorchScript
            return torch.export.load(str(path)).module()
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated; its files still load
                warnings.simplefilter("ignore", DeprecationWarning)
                return torch.jit.load(str(path))  # type: ignore[no-untyped-call]
        except RuntimeError:  # not TorchScript: a pickled module whose class is importable
            return torch.load(path, weights_only=False)
    if suffix in _XGB + _LGB:
        head = path.read_bytes()[:16]
        if head.startswith(b"tree") or suffix in _LGB:
            import lightgbm as lgb

            return lgb.Booster(model_file=str(path))
        import xgboost as xgb

        booster = xgb.Booster()
        data = path.read_bytes()
        if data.startswith(b"KILNXGBB"):  # our own codec's file
            booster.load_model(bytearray(data[8:]))
        else:
            booster.load_model(str(path))
        return booster
    raise ModelError(f"cannot tell the model format of {path.name}",
                     hint=f"supported files end in {', '.join(MODEL_SUFFIXES)}, or give "
                          "file.py:Class for a custom predictor")


def _load_class(file: Path, qualname: str) -> Any:
    obj: Any = import_file(file, f"kiln_predictor_{abs(hash(file.as_posix()))}")
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ModelError(f"{file.name} has no '{qualname}'",
                                hint="give file.py:ClassName of a class with predict()")
    return obj() if isinstance(obj, type) else obj
