"""What every container kilnflow compiles for Kubeflow shares: the compiled pipeline's steps
(compiler.py) and a distributed step's PyTorchJob replicas (pytorchjob.py) alike."""

from __future__ import annotations

import re

from kiln._version import __version__

# kilnflow installed unless the image has it: in each step's container and in each replica of
# a distributed step's PyTorchJob (pytorchjob.replica_command).
INSTALL_KILN = ("python3 -c 'import kiln' 2>/dev/null || PIP_DISABLE_PIP_VERSION_CHECK=1 python3 "
                "-m pip install --quiet --no-warn-script-location "
                f"'kilnflow=={__version__}'")
# The Secret that gives steps, the launcher and the replicas the shared store
# (docs/kubeflow.md).
STORE_SECRET = "kiln-store"
STORE_KEYS = ("KILN_STORE", "KILN_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def dns_name(name: str) -> str:
    """A Kubernetes-style name: lower case, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower().replace("_", "-")).strip("-") or "step"
