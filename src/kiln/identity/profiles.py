"""`kiln export kubeflow-profiles`: the namespaces, owners and contributors of this server as
Kubeflow resources — a Profile per namespace (owner as spec.owner) and, per contributor,
what Kubeflow's access management (KFAM) makes when one is added in its dashboard: a
RoleBinding to the ClusterRole kubeflow-admin, -edit or -view, annotated with `user` and
`role`, and an Istio AuthorizationPolicy letting the ingress gateway through with that user's
kubeflow-userid header. Groups get a RoleBinding with a Group subject (KFAM has no groups; a
cluster whose identity provider sends groups to Kubernetes honours it)."""

from __future__ import annotations

import re
from typing import Any

from kiln.catalog.db import Catalog

CLUSTER_ROLES = {"admin": "kubeflow-admin", "edit": "kubeflow-edit", "view": "kubeflow-view"}
GATEWAY = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
USER_HEADER = "kubeflow-userid"


def _safe(name: str) -> str:
    """KFAM's binding names: the user's name with every other character as '-'."""
    return re.sub(r"[^a-z0-9-]", "-", name.lower())


def resources(cat: Catalog) -> list[dict[str, Any]]:
    from kiln.identity.namespaces import list_all

    out: list[dict[str, Any]] = []
    for ns in list_all(cat):
        out.append({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
                    "metadata": {"name": ns["name"]},
                    "spec": {"owner": {"kind": "User", "name": ns["owner"]}}})
        for m in ns["members"]:
            if m["kind"] == "user" and m["name"] == ns["owner"]:
                continue  # the profile controller binds the owner itself (namespaceAdmin)
            out.extend(_contributor(ns["name"], m["kind"], m["name"], m["role"]))
    return out


def _contributor(namespace: str, kind: str, name: str, role: str) -> list[dict[str, Any]]:
    prefix = "user" if kind == "user" else "group"
    binding = f"{prefix}-{_safe(name)}-clusterrole-{role}"
    annotations = {"role": role, kind: name}
    meta = {"name": binding, "namespace": namespace, "annotations": annotations}
    subject = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind.capitalize(), "name": name}
    made: list[dict[str, Any]] = [{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": CLUSTER_ROLES[role]},
        "subjects": [subject]}]
    if kind == "user":
        made.append({
            "apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
            "metadata": dict(meta),
            "spec": {"rules": [{
                "from": [{"source": {"principals": [GATEWAY]}}],
                "when": [{"key": f"request.headers[{USER_HEADER}]", "values": [name]}]}]}})
    return made


def profiles_yaml(cat: Catalog) -> str:
    import yaml

    return str(yaml.safe_dump_all(resources(cat), sort_keys=False))
