"""What every container kilnflow compiles for Kubeflow shares: the compiled pipeline's steps
(compiler.py), a distributed step's PyTorchJob replicas (pytorchjob.py) and Katib's trials
(tune/katib.py) all start by preparing the container (bootstrap.py) from a plan."""

from __future__ import annotations

import ast
import functools
import json
import re
import shlex
from pathlib import Path
from typing import Any

from kiln.pysource import parse

# The Secret that gives steps, the launcher and the replicas the shared store
# (docs/kubeflow.md).
STORE_SECRET = "kiln-store"
STORE_KEYS = ("KILN_STORE", "KILN_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def dns_name(name: str) -> str:
    """A Kubernetes-style name: lower case, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower().replace("_", "-")).strip("-") or "step"


@functools.lru_cache(maxsize=1)
def bootstrap_source() -> str:
    """bootstrap.py without its docstrings and comments: it is repeated in every step's
    command, so it is kept short but readable."""
    tree = parse(Path(__file__).with_name("bootstrap.py").read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body.pop(0)
    return ast.unparse(tree) + "\n"


def prepare(plan: dict[str, Any]) -> str:
    """Shell lines that run the bootstrap on `plan`, then put the pipeline's local code (if
    any) on PYTHONPATH. The source goes through a quoted here-document, so the shell expands
    nothing in it."""
    return ("kiln_boot=$(mktemp) && cat > \"$kiln_boot\" <<'KILN_BOOTSTRAP'\n"
            f"{bootstrap_source()}KILN_BOOTSTRAP\n"
            f"KILN_CODE_DIR=$(python3 \"$kiln_boot\" {shlex.quote(json.dumps(plan))}) && "
            "export KILN_CODE_DIR PYTHONPATH=\"${KILN_CODE_DIR:+$KILN_CODE_DIR:}"
            "${PYTHONPATH:-}\"")
