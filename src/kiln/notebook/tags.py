"""Kale's cell-tag language, parsed one cell at a time.

The patterns are Kale's own (kale/processors/constants.py in kubeflow-kale 2.3), plus
`block:`, the older spelling of `step:` that notebooks made with Kale < 0.6 carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kiln.errors import NotebookError

_NAME = r"[_a-z]([_a-z0-9]*)?"
_SEGMENT = "[a-zA-Z0-9]+([a-zA-Z0-9-_.]*[a-zA-Z0-9])?"
_K8S_KEY = f"{_SEGMENT}([/]{_SEGMENT})?"

SECTION_TAGS = {
    "skip": "skip",
    "imports": "imports",
    "functions": "functions",
    "pipeline-parameters": "parameters",
    "pipeline-metrics": "metrics",
}
STEP = re.compile(rf"^(?:step|block):(?P<name>{_NAME})?$")
PREV = re.compile(rf"^prev:(?P<name>{_NAME})$")
LIMIT = re.compile(r"^limit:(?P<key>[_a-z-\.\/]+):(?P<value>[_a-zA-Z0-9\.]+)$")
LABEL = re.compile(rf"^label:(?P<key>{_K8S_KEY}):(?P<value>.*)$")
ANNOTATION = re.compile(rf"^annotation:(?P<key>{_K8S_KEY}):(?P<value>.*)$")
CACHE = re.compile(r"^cache:(?P<value>enabled|disabled)$")
IMAGE = re.compile(r"^image:(?P<value>.+)$")
SECRET = re.compile(r"^secret:(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?):(?P<key>[-._a-zA-Z0-9]+)"
                    r":(?P<env>[A-Za-z_][A-Za-z0-9_]*)$")
REPORT = re.compile(r"^report:(enabled|disabled)$")
# kilnflow's own: run the step as N torch.distributed processes (@step(distributed=...))
DISTRIBUTED = re.compile(r"^distributed:(?P<framework>[a-z]+):(?P<workers>[0-9]+)$")
NOTEBOOK = re.compile(rf"^notebook:({_NAME})?$")

KNOWN = ("skip, imports, functions, pipeline-parameters, pipeline-metrics, step:NAME, "
         "block:NAME, prev:NAME, limit:KEY:VALUE, label:KEY:VALUE, annotation:KEY:VALUE, "
         "cache:enabled|disabled, image:IMAGE, secret:NAME:KEY:ENV, report:enabled|disabled, "
         "distributed:pytorch:N")


@dataclass
class CellTags:
    section: str | None = None  # skip, imports, functions, parameters, metrics, step
    step: str | None = None  # the step name for section == "step" ("" continues the current)
    prev: list[str] = field(default_factory=list)
    limits: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    cache: bool | None = None
    image: str | None = None
    distributed: dict[str, object] | None = None

    @property
    def has_step_options(self) -> bool:
        return bool(self.prev or self.limits or self.labels or self.annotations or self.secrets
                    or self.cache is not None or self.image or self.distributed)


def parse_tags(tags: object, *, where: str) -> CellTags:
    out = CellTags()
    if tags is None:
        return out
    if not isinstance(tags, list):
        raise NotebookError(f"cell tags must be a list, found {type(tags).__name__}", where=where)
    for t in tags:
        if not isinstance(t, str):
            raise NotebookError(f"tag {t!r} is not a string", where=where)
        if t in SECTION_TAGS:
            _set_section(out, SECTION_TAGS[t], None, t, where)
        elif m := STEP.match(t):
            _set_section(out, "step", m.group("name") or "", t, where)
        elif m := PREV.match(t):
            out.prev.append(m.group("name"))
        elif m := LIMIT.match(t):
            out.limits[m.group("key")] = m.group("value")
        elif m := LABEL.match(t):
            out.labels[m.group("key")] = m.group("value")
        elif m := ANNOTATION.match(t):
            out.annotations[m.group("key")] = m.group("value")
        elif m := CACHE.match(t):
            out.cache = m.group("value") == "enabled"
        elif m := IMAGE.match(t):
            out.image = m.group("value")
        elif m := SECRET.match(t):
            out.secrets[m.group("env")] = {"name": m.group("name"), "key": m.group("key")}
        elif m := DISTRIBUTED.match(t):
            workers = int(m.group("workers"))
            if m.group("framework") != "pytorch" or workers < 1:
                raise NotebookError(f"tag '{t}': use distributed:pytorch:N with N >= 1",
                                    where=where)
            out.distributed = {"framework": "pytorch", "workers": workers}
        elif REPORT.match(t):
            pass  # Kale's HTML report of a step's notebook: nothing to do locally
        elif NOTEBOOK.match(t):
            raise NotebookError(
                f"tag '{t}' composes another notebook as a sub-pipeline; kilnflow does not "
                "support notebook composition yet", where=where,
                hint="copy the other notebook's steps into this one")
        else:
            raise NotebookError(f"unknown tag '{t}'", where=where,
                                hint=_tag_hint(t))
    return out


def _tag_hint(tag: str) -> str:
    head = tag.split(":", 1)[0]
    if head in ("step", "block", "prev"):
        return ("step names use lowercase letters, digits and _, and start with a letter "
                "or _ (e.g. step:train_model)")
    return f"known tags: {KNOWN}"


def _set_section(out: CellTags, section: str, step: str | None, tag: str, where: str) -> None:
    if out.section is not None:
        raise NotebookError(
            f"tag '{tag}' conflicts with another tag on the same cell "
            f"({out.section if out.section != 'step' else 'step:' + (out.step or '')})",
            where=where, hint="a cell belongs to one step or one special section")
    out.section = section
    out.step = step
