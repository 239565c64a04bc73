"""Prepares a container for a compiled step: installs what the step needs and the image
lacks, then prints the folder of the pipeline's local code (or nothing).

This file runs *before* kilnflow is installed in the container: the compiler embeds its
source in the component's command (containers.bootstrap_command), so it uses the standard
library only. Its input is the plan the compiler wrote (shipping.Plan.to_dict()):

    {"requirements": ["pandas==2.2.3", ...],   pinned where the pipeline was compiled
     "wheels": [{"url", "sha256", "name", "requirement"}],   local wheels, shipped
     "runtime": {"version", "wheel": {...} | None, "requirement": str | None},
     "code": {"url" | "data", "sha256"} | None,   the local modules, as a zip
     "boto3": "boto3==1.35.0" | None}   to fetch s3:// objects when the image lacks boto3

A requirement already satisfied in the image at the pinned version is not reinstalled. All
progress goes to stderr; stdout carries only the code folder, for the shell to put on
PYTHONPATH.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from typing import Any

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;,]+)\s*$")


def _say(text: str) -> None:
    sys.stderr.write(f"kiln: {text}\n")
    sys.stderr.flush()


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _satisfied(requirement: str) -> bool:
    """A pin `name==version` installed at that version (local build labels aside)."""
    m = _PIN.match(requirement)
    if not m:
        return False
    have = _installed(m.group(1))
    return have is not None and have.split("+")[0] == m.group(2).split("+")[0]


def _pip(args: list[str]) -> None:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-warn-script-location",
           *args]
    done = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, env=env)
    if done.returncode != 0:
        _say(f"pip failed ({done.returncode}) installing: {' '.join(args)}")
        sys.exit(done.returncode)


def _s3_client(plan: dict[str, Any]) -> Any:
    try:
        import boto3
    except ImportError:
        _pip([plan.get("boto3") or "boto3"])
        import boto3
    endpoint = os.environ.get("KILN_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    return boto3.client("s3", endpoint_url=endpoint or None)


def _fetch(obj: dict[str, Any], plan: dict[str, Any], folder: str) -> str:
    """The object's bytes, checked against the hash the compiler recorded."""
    if "data" in obj:
        data = base64.b64decode(obj["data"])
    else:
        url = obj["url"]
        if url.startswith("s3://"):
            bucket, _, key = url[len("s3://"):].partition("/")
            data = _s3_client(plan).get_object(Bucket=bucket, Key=key)["Body"].read()
        elif url.startswith("file://"):
            with open(urllib.request.url2pathname(url[len("file://"):]), "rb") as f:
                data = f.read()
        else:
            with urllib.request.urlopen(url, timeout=300) as r:
                data = r.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != obj["sha256"]:
        _say(f"{obj.get('url', 'embedded code')} has sha256 {digest}, the pipeline was "
             f"compiled with {obj['sha256']}: refusing to install it")
        sys.exit(3)
    path = os.path.join(folder, obj.get("name") or "code.zip")
    with open(path, "wb") as f:
        f.write(data)
    return path


def _extract(path: str, folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("/") or ".." in name.split("/"):
                _say(f"the code archive holds an unsafe path {name!r}: refusing it")
                sys.exit(3)
        z.extractall(folder)


def main(plan: dict[str, Any]) -> None:
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="kiln-env-")
    missing = [r for r in plan["requirements"] if not _satisfied(r)]
    wheels = [w for w in plan.get("wheels", []) if not _satisfied(w["requirement"])]
    runtime = plan["runtime"]
    need_runtime = (_installed("kilnflow") or "").split("+")[0] != runtime["version"]
    if missing or wheels:
        _say(f"installing {len(missing) + len(wheels)} of "
             f"{len(plan['requirements']) + len(plan.get('wheels', []))} packages the step "
             f"needs: {', '.join(missing + [w['requirement'] for w in wheels])}")
        _pip([*missing, *(_fetch(w, plan, work) for w in wheels)])
    if need_runtime:
        where = runtime.get("requirement") or runtime["wheel"]["url"]
        _say(f"installing the kilnflow {runtime['version']} runtime from {where}")
        # Without its dependencies: the step's requirements already pin what the runtime
        # imports; kilnflow's own list (the server, the dashboard) is not needed in a step.
        _pip(["--no-deps", runtime.get("requirement") or _fetch(runtime["wheel"], plan, work)])
    code = plan.get("code")
    if code:
        folder = os.path.join(work, "code")
        _extract(_fetch(code, plan, work), folder)
        sys.stdout.write(folder)
    _say(f"container prepared in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
