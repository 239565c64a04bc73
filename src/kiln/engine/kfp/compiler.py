"""PipelineSpec → KFP v2 IR (PipelineSpec YAML, schemaVersion 2.1.0).

Written directly rather than through the `kfp` DSL: it needs no kfp install, and for large
graphs it is faster than building Python component objects first (benchmarks/kfp_compile.py).
The shape follows what `kfp` 2.17's compiler emits for lightweight components (REFERENCE.md),
because `kfp.local`'s SubprocessRunner only runs components started by `kfp.dsl.executor_main`.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln._version import __version__
from kiln.engine.kfp.containers import STORE_KEYS, STORE_SECRET, dns_name, prepare
from kiln.errors import SpecError
from kiln.spec.model import PipelineSpec, StepSpec
from kiln.spec.validate import order_steps

if TYPE_CHECKING:  # the step runtime imports this module; shipping needs `packaging`
    from kiln.engine.kfp.shipping import Shipment

KFP_VERSION = "2.17.0"
DEFAULT_IMAGE = "python:3.11"
METRICS_OUTPUT = "kiln_metrics"
_PARAM_TYPES = {"int": "NUMBER_INTEGER", "float": "NUMBER_DOUBLE", "str": "STRING",
                "bool": "BOOLEAN", "list": "LIST", "dict": "STRUCT"}
_PY_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "list": "list",
             "dict": "dict"}
_ARTIFACT = {"schemaTitle": "system.Artifact", "schemaVersion": "0.0.1"}
_METRICS = {"schemaTitle": "system.Metrics", "schemaVersion": "0.0.1"}

# The same two-stage command kfp's compiler writes: install kfp, prepare the container (the
# step's libraries, kilnflow's runtime, the local code: containers.prepare), then run the
# step's program through kfp's executor.
_INSTALL_KFP = (
    "\nif ! [ -x \"$(command -v pip)\" ]; then\n    python3 -m ensurepip || "
    "python3 -m ensurepip --user || apt-get install python3-pip\nfi\n\n"
    "PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet --no-warn-script-location "
    f"'kfp=={KFP_VERSION}' '--no-deps' 'typing-extensions>=3.7.4,<5; python_version<\"3.9\"'")
_RUN = ('program_path=$(mktemp -d)\n\n\nprintf "%s" "$0" > "$program_path/ephemeral_component.py"'
        '\n\n_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main                         '
        '--component_module_path                         "$program_path/ephemeral_component.py"'
        '                         "$@"\n\n')
_PROGRAM = '''
import kfp
from kfp import dsl
from kfp.dsl import *
from typing import *

def {fn}({signature}):
    args = dict(locals())
    from kiln.engine.kfp.executor import run_step
    run_step({task!r}, args)

'''


def compile_kfp(spec: PipelineSpec, *, image: str | None = None,
                shipment: Shipment | None = None) -> dict[str, Any]:
    """The KFP v2 pipeline package of `spec`, as a dict ready for YAML. `shipment` is what
    travels with it (shipping.ship); by default the steps' captured environment, with the
    runtime and local code put in the default store."""
    order = order_steps(spec)
    if shipment is None:
        from kiln.engine.kfp.shipping import ship_spec

        shipment = ship_spec(spec)
    components: dict[str, Any] = {}
    executors: dict[str, Any] = {}
    tasks: dict[str, Any] = {}
    labels = component_labels(spec, order)
    modules: dict[str, str] = {}  # file -> source, read once for all steps of a module
    keys: dict[str, dict[str, str]] = {}  # step -> output -> its artifact's key
    for name in order:
        step = spec.step(name)
        comp, exec_label = f"comp-{labels[name]}", f"exec-{labels[name]}"
        params, artifacts, sig = _inputs(spec, step)
        keys[name] = output_keys(step, set(params) | set(artifacts))
        outputs = {keys[name][o]: {"artifactType": _ARTIFACT} for o in step.outputs}
        outputs[METRICS_OUTPUT] = {"artifactType": _METRICS}
        sig += [f"{keys[name][o]}: Output[Artifact]" for o in step.outputs]
        sig.append(f"{METRICS_OUTPUT}: Output[Metrics]")
        component: dict[str, Any] = {"executorLabel": exec_label,
                                     "outputDefinitions": {"artifacts": outputs}}
        inputs_def: dict[str, Any] = {}
        if artifacts:
            inputs_def["artifacts"] = {a: {"artifactType": _ARTIFACT} for a in artifacts}
        if params:
            inputs_def["parameters"] = {p: {"parameterType": _PARAM_TYPES[t]}
                                        for p, (t, _) in params.items()}
        if inputs_def:
            component["inputDefinitions"] = inputs_def
        components[comp] = component
        fn = f"kiln_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
        # a step's own image: tag, then --image, then the notebook's docker_image
        meta = spec.metadata.get("kubeflow_notebook", {})
        step_image = step.image or image or meta.get("docker_image") or \
            meta.get("base_image") or DEFAULT_IMAGE
        plan = shipment.plan(name)
        program = _PROGRAM.format(fn=fn, signature=", ".join(sig),
                                  task=_task_blob(spec, step, modules, step_image, keys[name],
                                                  plan))
        install = f'{_INSTALL_KFP} && {prepare(plan)} && "$0" "$@"\n'
        container: dict[str, Any] = {
            "image": step_image,
            "command": ["sh", "-c", install, "sh", "-ec", _RUN, program],
            "args": ["--executor_input", "{{$}}", "--function_to_execute", fn],
        }
        resources = _resources(step)
        if resources:
            container["resources"] = resources
        executors[exec_label] = {"container": container}
        task: dict[str, Any] = {
            "cachingOptions": {"enableCache": True} if step.cache else {},
            "componentRef": {"name": comp},
            "taskInfo": {"name": name},
        }
        ups = step.upstream()
        if ups:
            task["dependentTasks"] = sorted(ups)
        task_inputs: dict[str, Any] = {}
        if params:
            task_inputs["parameters"] = {p: {"componentInputParameter": src}
                                         for p, (_, src) in params.items()}
        if artifacts:
            task_inputs["artifacts"] = {a: {"taskOutputArtifact": {
                "outputArtifactKey": keys[producer][out], "producerTask": producer}}
                for a, (producer, out) in artifacts.items()}
        if task_inputs:
            task["inputs"] = task_inputs
        if step.retries:
            task["retryPolicy"] = {"backoffDuration": "0s", "backoffFactor": 2.0,
                                   "backoffMaxDuration": "3600s",
                                   "maxRetryCount": step.retries}
        tasks[name] = task
    root: dict[str, Any] = {"dag": {"tasks": tasks}}
    if spec.parameters:
        root["inputDefinitions"] = {"parameters": {
            p.name: _default(p.name, p.type, p.default) for p in spec.parameters}}
    package: dict[str, Any] = {
        "components": components,
        "deploymentSpec": {"executors": executors},
        "pipelineInfo": {"name": dns_name(spec.name)},
        "root": root,
        "schemaVersion": "2.1.0",
        "sdkVersion": f"kfp-{KFP_VERSION}",
    }
    if spec.description:
        package["pipelineInfo"]["description"] = spec.description
    platform = _platform(spec, order, labels, shipment.uses_s3())
    if platform:
        package["platformSpec"] = platform
    return package


def _inputs(spec: PipelineSpec, step: StepSpec) -> tuple[
        dict[str, tuple[str, str]], dict[str, tuple[str, str]], list[str]]:
    """Parameters (name -> (type, pipeline parameter)), artifacts (name -> (task, output))
    and the program's signature."""
    ptypes = {p.name: p.type for p in spec.parameters}
    params: dict[str, tuple[str, str]] = {}
    artifacts: dict[str, tuple[str, str]] = {}
    for i in step.inputs:
        if i.step is not None:
            artifacts[i.name] = (i.step, i.output or "")
        elif i.param is not None:
            params[i.name] = (ptypes[i.param], i.param)
    if step.kind == "cells":  # every pipeline parameter is visible in a cell step, as in Kale
        for p in spec.parameters:
            params.setdefault(p.name, (p.type, p.name))
    sig = [f"{a}: Input[Artifact]" for a in artifacts]
    sig += [f"{p}: {_PY_TYPES[t]}" for p, (t, _) in params.items()]
    return params, artifacts, sig


def output_keys(step: StepSpec, inputs: set[str]) -> dict[str, str]:
    """Each output's artifact key: its name, unless an input has that name (a notebook step
    that received a value and passes it on, changed): the component's function cannot take
    two arguments of one name, so the output's key gets a suffix."""
    out = {}
    taken = set(inputs) | {METRICS_OUTPUT}
    for o in step.outputs:
        key = o
        while key in taken:
            key += "_out"
        taken.add(key)
        out[o] = key
    return out


def _task_blob(spec: PipelineSpec, step: StepSpec, modules: dict[str, str],
               image: str, keys: dict[str, str], plan: dict[str, Any]) -> str:
    """What the executor needs to run the step, packed small: zlib + base64 of JSON."""
    function = None
    if step.function is not None:
        f = step.function
        if f.file not in modules:
            try:
                modules[f.file] = Path(f.file).read_text()
            except OSError as e:
                raise SpecError(f"step '{step.name}': cannot read its module {f.file}: {e}",
                                hint="compile on the machine that has the pipeline's code") \
                    from None
        function = {"module": f.module, "file": Path(f.file).name, "qualname": f.qualname,
                    "source": modules[f.file]}
    task: dict[str, Any] = {
        "step": step.name, "kind": step.kind, "outputs": list(step.outputs),
        "output_keys": {o: k for o, k in keys.items() if o != k},
        "cells": [c.__dict__ for c in step.cells],
        "prelude": [c.__dict__ for c in spec.prelude] if step.kind == "cells" else [],
        "function": function,
        "constants": {i.name: i.value for i in step.inputs if i.step is None and i.param is None},
        "params": [p.name for p in spec.parameters] if step.kind == "cells" else [],
        "workdir": spec.workdir,
        # mount -> the PVC's path in the container (see _platform)
        "volumes": {m: {"path": mount_path(m, v), "volume": v} for m, v in step.volumes.items()},
    }
    if distributed(step):  # what the launcher needs to write the PyTorchJob (pytorchjob.py)
        task.update(distributed=step.distributed, image=image, timeout=step.timeout,
                    resources=_replica_resources(step), labels=dict(step.labels),
                    annotations=dict(step.annotations), plan=plan)
    raw = json.dumps(task, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 6)).decode()


def distributed(step: StepSpec) -> bool:
    return step.distributed is not None and int(step.distributed.get("workers", 1)) > 1


def _limits(step: StepSpec) -> dict[str, Any]:
    """Kale's `limit:` tags over @step(resources=...), in Kubernetes' own keys (cpu, memory,
    nvidia.com/gpu)."""
    return {**{k: v for k, v in step.resources.items() if k != "secrets"}, **step.limits}


def _replica_resources(step: StepSpec) -> dict[str, str]:
    """Each replica's container limits."""
    return {k: str(v) for k, v in _limits(step).items()}


def _default(name: str, ptype: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"parameterType": _PARAM_TYPES[ptype], "isOptional": True}
    if value is not None:
        out["defaultValue"] = float(value) if ptype == "int" else value
    return out


def _resources(step: StepSpec) -> dict[str, Any]:
    """Kale's `limit:` tags and @step(resources=...) as KFP container resources."""
    out: dict[str, Any] = {}
    res = _limits(step)
    cpu, mem = res.pop("cpu", None), res.pop("memory", None)
    if cpu is not None:
        out["resourceCpuLimit"] = str(cpu)
    if mem is not None:
        out["resourceMemoryLimit"] = str(mem)
    for key, count in res.items():
        if "gpu" in key or "/" in key:
            out["accelerator"] = {"resourceType": key, "resourceCount": str(count)}
    return out


def mount_path(mount: str, volume: str) -> str:
    """Where a volume's PVC is mounted in the step's container: Kale's mount_point as it is,
    else /mnt/kiln/VOLUME (an SDK step gets this path as its argument)."""
    return mount if mount.startswith("/") else f"/mnt/kiln/{volume}"


def component_labels(spec: PipelineSpec, order: list[str]) -> dict[str, str]:
    """Each step's component and executor name (comp-X, exec-X), unique as kfp's compiler
    makes them (a -2 suffix): steps `load_data` and `load-data` both make `load-data`, and a
    component named like the pipeline (`comp-<pipeline>`) makes the kfp SDK load the whole
    package as that one component."""
    taken = {dns_name(spec.name)}
    out = {}
    for name in order:
        base = label = dns_name(name)
        n = 1
        while label in taken:
            n += 1
            label = f"{base}-{n}"
        taken.add(label)
        out[name] = label
    return out


def _platform(spec: PipelineSpec, order: list[str], labels: dict[str, str],
              s3: bool) -> dict[str, Any]:
    """Labels, annotations, PVC mounts and the store's Secret per task, in kfp-kubernetes'
    platformSpec (the shape kfp-kubernetes' `mount_pvc` writes; each volume is a PVC of the
    same name). `s3`: the shipped code is in an S3 bucket, which every step reads."""
    execs: dict[str, Any] = {}
    for name in order:
        step = spec.step(name)
        conf: dict[str, Any] = {}
        if step.labels:
            conf["podMetadata"] = {"labels": dict(step.labels)}
        if step.annotations:
            conf.setdefault("podMetadata", {})["annotations"] = dict(step.annotations)
        if distributed(step) or s3:
            # The launcher stages inputs and reads rank 0's outputs through the shared store;
            # every step fetches the shipped runtime and code from it.
            conf["secretAsEnv"] = [{"secretName": STORE_SECRET, "optional": True,
                                    "keyToEnv": [{"secretKey": k, "envVar": k}
                                                 for k in STORE_KEYS]}]
        if step.volumes:
            conf["pvcMount"] = [
                {"constant": vol, "mountPath": mount_path(m, vol),
                 "pvcNameParameter": {"runtimeValue": {"constant": vol}}}
                for m, vol in sorted(step.volumes.items())]
        if conf:
            execs[f"exec-{labels[name]}"] = conf
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": execs}}}} if execs \
        else {}


def dump(package: dict[str, Any]) -> str:
    import yaml

    dumper = _dumper()
    head = f"# PIPELINE DEFINITION\n# Name: {package['pipelineInfo']['name']}\n" \
           f"# Compiled by kilnflow {__version__}\n"
    pipeline = {k: v for k, v in package.items() if k != "platformSpec"}
    text: str = head + yaml.dump(pipeline, Dumper=dumper, sort_keys=True, width=100)
    if "platformSpec" in package:  # kfp-kubernetes' platform config: a second YAML document
        text += "---\n" + yaml.dump(package["platformSpec"], Dumper=dumper, sort_keys=True,
                                    width=100)
    return text


@functools.lru_cache(maxsize=1)
def _dumper() -> Any:
    """YAML's dumper, writing multi-line strings (each step's shell command and program) as
    literal blocks: readable in the package, and a third of the size of quoted escapes."""
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc,valid-type]
        pass

    def text(dumper: Any, data: str) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data,
                                       style="|" if "\n" in data else None)

    Dumper.add_representer(str, text)
    return Dumper
