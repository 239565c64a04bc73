"""Pipelines and their uploaded versions: each upload is kept, numbered 1, 2, 3, ..."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from kiln.catalog.db import Catalog, now
from kiln.catalog.refs import missing
from kiln.catalog.schema import Pipeline, PipelineVersion, Run
from kiln.errors import NotFoundError


@dataclass
class VersionInfo:
    id: int
    pipeline: str
    number: int
    filename: str
    entry: str
    digest: str
    spec_json: str
    spec_digest: str
    message: str
    created_at: datetime

    def spec(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.spec_json)
        return data

    def to_dict(self, *, with_spec: bool = False) -> dict[str, Any]:
        spec = self.spec()
        d = {"id": self.id, "pipeline": self.pipeline, "number": self.number,
             "filename": self.filename, "entry": self.entry, "digest": self.digest,
             "spec_digest": self.spec_digest, "message": self.message,
             "created_at": self.created_at.isoformat() + "Z",
             "parameters": spec.get("parameters", []),
             "graph": graph(spec)}
        if with_spec:
            d["spec"] = spec
        return d


@dataclass
class PipelineInfo:
    id: int
    name: str
    description: str
    created_at: datetime
    versions: int = 0
    latest: VersionInfo | None = None
    runs: int = 0
    all_versions: list[VersionInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "created_at": self.created_at.isoformat() + "Z", "versions": self.versions,
                "runs": self.runs,
                "latest": self.latest.to_dict() if self.latest else None}


def graph(spec: dict[str, Any]) -> dict[str, Any]:
    """Nodes and edges of a spec's DAG (data edges carry the output's name), for drawing."""
    nodes = [{"id": s["name"], "kind": s.get("kind", "")} for s in spec.get("steps", [])]
    edges = []
    for s in spec.get("steps", []):
        for i in s.get("inputs", []):
            if i.get("step"):
                edges.append({"from": i["step"], "to": s["name"], "name": i.get("output")})
        for a in s.get("after", []):
            edges.append({"from": a, "to": s["name"], "name": None})
    return {"nodes": nodes, "edges": edges}


def add_version(cat: Catalog, *, pipeline: str, filename: str, entry: str, digest: str,
                spec_json: str, spec_digest: str, message: str = "",
                description: str = "", reuse: bool = False) -> VersionInfo:
    """A new version (the pipeline is created with its first version), in one transaction.
    `reuse`: when the latest version holds the same file and spec, return it instead."""
    with cat.write() as s:
        p = s.scalar(select(Pipeline).where(Pipeline.name == pipeline))
        if p is None:
            p = Pipeline(name=pipeline, description=description, created_at=now())
            s.add(p)
            s.flush()
        elif description:
            p.description = description
        if reuse:
            latest = s.scalar(select(PipelineVersion).where(PipelineVersion.pipeline_id == p.id)
                              .order_by(PipelineVersion.number.desc()).limit(1))
            if latest is not None and (latest.digest, latest.filename, latest.entry,
                                       latest.spec_digest) == (digest, filename, entry,
                                                               spec_digest):
                return _version(latest, pipeline)
        number = (s.scalar(select(func.max(PipelineVersion.number))
                           .where(PipelineVersion.pipeline_id == p.id)) or 0) + 1
        v = PipelineVersion(pipeline_id=p.id, number=number, filename=filename, entry=entry,
                            digest=digest, spec_json=spec_json, spec_digest=spec_digest,
                            message=message, created_at=now())
        s.add(v)
        s.flush()
        return _version(v, pipeline)


def _version(v: PipelineVersion, name: str) -> VersionInfo:
    return VersionInfo(v.id, name, v.number, v.filename, v.entry, v.digest, v.spec_json,
                       v.spec_digest, v.message, v.created_at)


def list_pipelines(cat: Catalog) -> list[PipelineInfo]:
    with cat.read() as s:
        out = []
        counts = dict(s.execute(select(PipelineVersion.pipeline_id, func.count())
                                .group_by(PipelineVersion.pipeline_id)).all())
        runs = dict(s.execute(select(Run.pipeline_name, func.count())
                              .group_by(Run.pipeline_name)).all())
        for p in s.scalars(select(Pipeline).order_by(Pipeline.name)):
            info = PipelineInfo(p.id, p.name, p.description, p.created_at,
                                counts.get(p.id, 0), runs=runs.get(p.name, 0))
            latest = s.scalar(select(PipelineVersion).where(PipelineVersion.pipeline_id == p.id)
                              .order_by(PipelineVersion.number.desc()).limit(1))
            info.latest = _version(latest, p.name) if latest else None
            out.append(info)
    return out


def get_pipeline(cat: Catalog, name: str) -> PipelineInfo:
    with cat.read() as s:
        p = s.scalar(select(Pipeline).where(Pipeline.name == name))
        if p is None:
            raise missing(s, Pipeline.name, name, "pipeline named",
                          "upload one with `kiln pipeline upload FILE`", where="pipeline")
        versions = [_version(v, name) for v in s.scalars(
            select(PipelineVersion).where(PipelineVersion.pipeline_id == p.id)
            .order_by(PipelineVersion.number.desc()))]
        runs = s.scalar(select(func.count()).select_from(Run).where(Run.pipeline_name == name))
    return PipelineInfo(p.id, p.name, p.description, p.created_at, len(versions),
                        versions[0] if versions else None, runs or 0, versions)


def get_version(cat: Catalog, name: str, number: int | None = None) -> VersionInfo:
    """Version `number` of a pipeline, or its latest."""
    p = get_pipeline(cat, name)
    if number is None and p.latest is not None:
        return p.latest
    for v in p.all_versions:
        if v.number == number:
            return v
    have = ", ".join(str(v.number) for v in p.all_versions) or "none"
    raise NotFoundError(f"pipeline '{name}' has no version {number}", where="version",
                        hint=f"versions: {have}")


def delete_pipeline(cat: Catalog, name: str) -> int:
    """Removes the pipeline and its versions (runs stay); gc then frees uploads nothing else
    references. Returns the number of versions removed."""
    info = get_pipeline(cat, name)
    with cat.write() as s:
        for v in s.scalars(select(PipelineVersion).where(PipelineVersion.pipeline_id == info.id)):
            s.delete(v)
        p = s.get(Pipeline, info.id)
        if p is not None:
            s.delete(p)
    return info.versions
