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
    step: str | None = None  # the step name for section == "step"
    prev: list[str] = field(default_factory=list)
    limits: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    cache: bool | None = None
    image: str | None = None
    distributed: dict[str, object] | None = None
    # Tags as written that Kale's reading sets aside: the rest of a cell whose special tag
    # wins, or whose step tag has no name. The compiler warns with their cell.
    ignored: list[str] = field(default_factory=list)
    why_ignored: str = ""
    option_tags: list[str] = field(default_factory=list)  # the step-option tags as written

    @property
    def has_step_options(self) -> bool:
        return bool(self.prev or self.limits or self.labels or self.annotations or self.secrets
                    or self.cache is not None or self.image or self.distributed)


def parse_tags(tags: object, *, where: str) -> CellTags:
    """One cell's tags, read as Kale reads them.

    - A special tag (skip, imports, functions, pipeline-parameters, pipeline-metrics) wins:
      the first one decides the cell and every other tag on it is set aside.
    - A step tag with no name (`step:` or `block:`) is no step: the cell continues the cell
      above, as an untagged cell does, and its step options are set aside (Kale 0.7).
    Unknown tags are errors wherever they stand.
    """
    out = CellTags()
    if tags is None:
        return out
    if not isinstance(tags, list):
        raise NotebookError(f"cell tags must be a list, found {type(tags).__name__}", where=where)
    special: str | None = None
    empty_step: str | None = None
    for t in tags:
        if not isinstance(t, str):
            raise NotebookError(f"tag {t!r} is not a string", where=where)
        if t in SECTION_TAGS:
            if special is None:
                special = t
                continue
        elif m := STEP.match(t):
            name = m.group("name")
            if not name:
                empty_step = empty_step or t
                continue
            if out.step is not None and out.step != name:
                raise NotebookError(
                    f"tag '{t}' gives this cell a second step name (it is step "
                    f"'{out.step}' already)", where=where,
                    hint="a cell belongs to one step: split the cell, one step tag each")
            out.step = name
        elif _step_option(out, t, where):
            out.option_tags.append(t)
        else:
            raise NotebookError(f"unknown tag '{t}'", where=where, hint=_tag_hint(t))
    if special is not None:
        return CellTags(section=SECTION_TAGS[special], ignored=[t for t in tags if t != special],
                        why_ignored=f"'{special}' decides this cell")
    if out.step is not None:
        out.section = "step"
    elif empty_step is not None:
        # Kale reads a nameless step tag as no tag: the cell continues the one above.
        return CellTags(ignored=list(tags), why_ignored=f"'{empty_step}' names no step, so "
                        "the cell continues the cell above")
    return out


def _step_option(out: CellTags, t: str, where: str) -> bool:
    """Parse a step-option tag into `out`; False if `t` is no tag we know."""
    if m := PREV.match(t):
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
        return False
    return True


def _tag_hint(tag: str) -> str:
    head = tag.split(":", 1)[0]
    if head in ("step", "block", "prev"):
        return ("step names use lowercase letters, digits and _, and start with a letter "
                "or _ (e.g. step:train_model)")
    return f"known tags: {KNOWN}"
