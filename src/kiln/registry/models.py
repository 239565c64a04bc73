"""Registered models: a name, numbered versions (each an artifact with its lineage: the run,
its parameters and metrics, the data snapshots its steps read, the study it won), and
aliases (`production`, `staging`) that move, with the history of where each pointed.
`kiln serve models:/churn@production` serves what an alias names (serving.loading)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import Json, Statements, timestamp
from kiln.errors import ModelError, NotFoundError, UserError
from kiln.marshal.registry import ArtifactRef
from kiln.names import check_name

SCHEME = "models:/"


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    artifact: ArtifactRef
    source: str
    run_id: str | None
    lineage: dict[str, Any]
    created_by: str
    created_at: datetime
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "source": self.source,
                "run": self.run_id, "artifact": self.artifact.to_dict(),
                "lineage": self.lineage, "aliases": list(self.aliases),
                "created_by": self.created_by, "created_at": self.created_at.isoformat() + "Z",
                "uri": f"{SCHEME}{self.model}/{self.version}"}


def check_model_name(name: str) -> str:
    return check_name("service", name, what="model name")


def _model_id(q: Statements, name: str) -> int:
    found = q.scalar("SELECT id FROM models WHERE name = :n", {"n": name})
    if found is None:
        raise NotFoundError(f"no registered model '{name}'", where="model",
                            hint="`kiln models ls` lists them; `kiln models register` adds one")
    return int(found)


def register(cat: Catalog, name: str, artifact: ArtifactRef, *, source: str,
             run_id: str | None, lineage: dict[str, Any], by: str,
             alias: str | None = None) -> ModelVersion:
    """The model's next version (the model is made with its first)."""
    check_model_name(name)
    if alias is not None:
        check_name("alias", alias)
    with cat.sql(write=True) as q:
        mid = q.scalar("SELECT id FROM models WHERE name = :n", {"n": name})
        if mid is None:
            mid = q.scalar("INSERT INTO models (name, description, created_at)"
                           " VALUES (:n, '', :ts) RETURNING id", {"n": name, "ts": now()})
        number = int(q.scalar("SELECT COALESCE(MAX(version), 0) FROM model_versions"
                              " WHERE model_id = :m", {"m": mid})) + 1
        q.all("INSERT INTO model_versions (model_id, version, digest, size, codec,"
              " codec_version, type_name, source, run_id, lineage, created_by, created_at)"
              " VALUES (:m, :v, :digest, :size, :codec, :cv, :type, :source, :run, :lineage,"
              " :by, :ts)", {"m": mid, "v": number, "digest": artifact.digest,
                             "size": artifact.size, "codec": artifact.codec,
                             "cv": artifact.codec_version, "type": artifact.type_name,
                             "source": source[:300], "run": run_id, "lineage": Json(lineage),
                             "by": by, "ts": now()})
        if alias is not None:
            _move(q, int(mid), alias, number, by)
    return get_version(cat, name, number)


def _move(q: Statements, mid: int, alias: str, version: int | None, by: str) -> None:
    q.all("DELETE FROM model_aliases WHERE model_id = :m AND alias = :a", {"m": mid, "a": alias})
    if version is not None:
        q.all("INSERT INTO model_aliases (model_id, alias, version) VALUES (:m, :a, :v)",
              {"m": mid, "a": alias, "v": version})
    q.all("INSERT INTO model_alias_history (model_id, alias, version, changed_by, at)"
          " VALUES (:m, :a, :v, :by, :ts)", {"m": mid, "a": alias, "v": version, "by": by,
                                            "ts": now()})


def set_alias(cat: Catalog, name: str, alias: str, version: int | None, *, by: str) -> None:
    """Point `alias` at `version` (None removes it); the move is kept in its history."""
    check_name("alias", alias)
    with cat.sql(write=True) as q:
        mid = _model_id(q, name)
        if version is not None and q.scalar(
                "SELECT 1 FROM model_versions WHERE model_id = :m AND version = :v",
                {"m": mid, "v": version}) is None:
            raise NotFoundError(f"model '{name}' has no version {version}", where="version",
                                hint=f"`kiln models show {name}` lists them")
        if version is None and q.scalar("SELECT 1 FROM model_aliases WHERE model_id = :m"
                                        " AND alias = :a", {"m": mid, "a": alias}) is None:
            raise NotFoundError(f"model '{name}' has no alias '{alias}'", where="alias")
        _move(q, mid, alias, version, by)


def _row(q: Statements, name: str, r: tuple[Any, ...]) -> ModelVersion:
    created = timestamp(r[10])
    assert created is not None
    aliases = tuple(a for (a,) in q.all(
        "SELECT alias FROM model_aliases a JOIN models m ON m.id = a.model_id"
        " WHERE m.name = :n AND a.version = :v ORDER BY alias", {"n": name, "v": r[0]}))
    return ModelVersion(name, int(r[0]), ArtifactRef(r[1], int(r[2]), r[3], int(r[4]), r[5]),
                        r[6], r[7], dict(q.load_json(r[8]) or {}), r[9], created, aliases)


_VERSION_COLUMNS = ("v.version, v.digest, v.size, v.codec, v.codec_version, v.type_name,"
                    " v.source, v.run_id, v.lineage, v.created_by, v.created_at")


def get_version(cat: Catalog, name: str, version: int | None = None, *,
                alias: str | None = None) -> ModelVersion:
    """A version by number, by alias, or the newest."""
    with cat.sql() as q:
        mid = _model_id(q, name)
        if alias is not None:
            version = q.scalar("SELECT version FROM model_aliases WHERE model_id = :m AND"
                               " alias = :a", {"m": mid, "a": alias})
            if version is None:
                known = [a for (a,) in q.all("SELECT alias FROM model_aliases WHERE"
                                             " model_id = :m ORDER BY alias", {"m": mid})]
                raise NotFoundError(f"model '{name}' has no alias '{alias}'", where="alias",
                                    hint=f"its aliases: {', '.join(known)}" if known else
                                    f"set one: `kiln models alias {name} {alias} VERSION`")
        if version is None:
            version = q.scalar("SELECT MAX(version) FROM model_versions WHERE model_id = :m",
                               {"m": mid})
        row = q.first(f"SELECT {_VERSION_COLUMNS} FROM model_versions v"  # noqa: S608
                      " WHERE v.model_id = :m AND v.version = :v", {"m": mid, "v": version})
        if row is None:
            raise NotFoundError(f"model '{name}' has no version {version}", where="version",
                                hint=f"`kiln models show {name}` lists them")
        return _row(q, name, row)


def parse_uri(text: str) -> tuple[str, int | None, str | None]:
    """models:/NAME, models:/NAME/VERSION or models:/NAME@ALIAS."""
    if not text.startswith(SCHEME):
        raise ModelError(f"'{text}' is not a models:/ address", where="model")
    rest = text[len(SCHEME):]
    name, at, alias = rest.partition("@")
    if at and not alias:
        raise ModelError(f"'{text}' is not models:/NAME[/VERSION|@ALIAS]: the alias is empty",
                         where="model", hint="e.g. models:/churn@production")
    name, _, number = name.partition("/")
    try:
        version = int(number) if number else None
    except ValueError:
        raise ModelError(f"'{text}': '{number}' is not a version number", where="model",
                         hint="models:/NAME/3 or models:/NAME@production") from None
    if not name or (alias and number):
        raise ModelError(f"'{text}' is not models:/NAME[/VERSION|@ALIAS]", where="model",
                         hint="e.g. models:/churn@production or models:/churn/3")
    return name, version, alias or None


def resolve(cat: Catalog, text: str) -> ModelVersion:
    name, version, alias = parse_uri(text)
    return get_version(cat, name, version, alias=alias)


def list_models(cat: Catalog) -> list[dict[str, Any]]:
    with cat.sql() as q:
        rows = q.all("SELECT m.name, COUNT(v.version), MAX(v.version), MAX(v.created_at)"
                     " FROM models m LEFT JOIN model_versions v ON v.model_id = m.id"
                     " GROUP BY m.name ORDER BY m.name")
        aliases: dict[str, dict[str, int]] = {}
        for name, alias, version in q.all(
                "SELECT m.name, a.alias, a.version FROM model_aliases a"
                " JOIN models m ON m.id = a.model_id ORDER BY a.alias"):
            aliases.setdefault(name, {})[alias] = int(version)
    out = []
    for name, count, latest, at in rows:
        t = timestamp(at)
        out.append({"name": name, "versions": int(count), "latest": latest,
                    "aliases": aliases.get(name, {}),
                    "updated_at": t.isoformat() + "Z" if t else None})
    return out


def describe(cat: Catalog, name: str) -> dict[str, Any]:
    """The model with every version, its aliases, and each alias's moves."""
    with cat.sql() as q:
        mid = _model_id(q, name)
        versions = [_row(q, name, r).to_dict() for r in q.all(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions v"  # noqa: S608
            " WHERE v.model_id = :m ORDER BY v.version DESC", {"m": mid})]
        aliases = {a: int(v) for a, v in q.all(
            "SELECT alias, version FROM model_aliases WHERE model_id = :m", {"m": mid})}
        history = []
        for alias, version, by, at in q.all(
                "SELECT alias, version, changed_by, at FROM model_alias_history"
                " WHERE model_id = :m ORDER BY id DESC", {"m": mid}):
            t = timestamp(at)
            history.append({"alias": alias, "version": version, "by": by,
                            "at": t.isoformat() + "Z" if t else None})
    return {"name": name, "versions": versions, "aliases": aliases, "history": history}


def lineage_of_output(cat: Catalog, run_ref: str, step: str, output: str | None
                      ) -> tuple[ArtifactRef, str, dict[str, Any]]:
    """An output of a run with what it came from: (artifact, run id, lineage)."""
    from kiln.catalog.runs import get_run
    from kiln.catalog.studies import study_of_run
    from kiln.catalog.volumes import task_volumes

    run = get_run(cat, run_ref)
    ref = run.output(step, output)
    data: dict[str, Any] = {}
    for task in run.tasks:
        for mount, (vol, snap) in task_volumes(cat, task.id).items():
            data[f"{task.step}:{mount}"] = {"volume": vol, "snapshot": snap}
    name = output or next((n for t in run.tasks if t.step == step for n in t.outputs), "")
    return ref, run.id, {"run": run.id, "run_name": run.name or None,
                         "pipeline": run.pipeline, "step": step, "output": name,
                         "params": run.params, "metrics": run.metrics, "data": data,
                         "study": study_of_run(cat, run.id)}


def check_source(text: str) -> tuple[str, str, str | None]:
    """RUN/STEP/OUTPUT (OUTPUT may be left out when the step has one)."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UserError(f"'{text}' is not RUN/STEP/OUTPUT", where="source",
                        hint="e.g. latest/train/model, or --study STUDY for a study's best")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None
