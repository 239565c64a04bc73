"""`kiln export kubeflow-profiles`: the namespaces, owners and contributors as Kubeflow
Profiles, KFAM's contributor RoleBindings and Istio AuthorizationPolicies, each checked
against the official Kubernetes client's models (a round trip through them must keep every
field: a field they do not know would be lost)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_cli

kubernetes = pytest.importorskip("kubernetes")


def through(model: str, value: dict[str, Any]) -> Any:
    """`value` read into the client's model and written back out."""
    from kubernetes.client import ApiClient

    class Response:
        data = json.dumps(value)

    api = ApiClient()
    return api.sanitize_for_serialization(api.deserialize(Response(), model))


def test_profiles_and_contributors_match_kubeflow_s_resources(kiln_home: Path, tmp_path: Path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    for user in ("ann@example.com", "bob@example.com", "cy@example.com"):
        assert run_cli("user", "add", user, "--no-password", env=env).returncode == 0
    assert run_cli("group", "create", "analysts", env=env).returncode == 0
    assert run_cli("namespace", "create", "team-a", "--owner", "ann@example.com",
                   env=env).returncode == 0
    assert run_cli("namespace", "create", "team-b", "--owner", "cy@example.com",
                   env=env).returncode == 0
    for args in (("--user", "bob@example.com", "--role", "edit"),
                 ("--user", "cy@example.com", "--role", "view"),
                 ("--group", "analysts", "--role", "view")):
        assert run_cli("namespace", "bind", "team-a", *args, env=env).returncode == 0
    out = tmp_path / "profiles.yaml"
    r = run_cli("export", "kubeflow-profiles", "-o", str(out), env=env)
    assert r.returncode == 0, r.stderr
    docs = list(yaml.safe_load_all(out.read_text()))
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert kinds == [
        ("Profile", "team-a"),
        ("RoleBinding", "user-bob-example-com-clusterrole-edit"),
        ("AuthorizationPolicy", "user-bob-example-com-clusterrole-edit"),
        ("RoleBinding", "user-cy-example-com-clusterrole-view"),
        ("AuthorizationPolicy", "user-cy-example-com-clusterrole-view"),
        ("RoleBinding", "group-analysts-clusterrole-view"),
        ("Profile", "team-b")]
    for doc in docs:
        assert through("V1ObjectMeta", doc["metadata"]) == doc["metadata"]
        if doc["kind"] == "RoleBinding":
            assert through("V1RoleBinding", doc) == doc
            assert doc["roleRef"]["name"] in ("kubeflow-edit", "kubeflow-view")
            assert doc["metadata"]["namespace"] == "team-a"
        elif doc["kind"] == "Profile":
            assert doc["apiVersion"] == "kubeflow.org/v1"
            # Kubeflow's Profile spec.owner is an rbac/v1 Subject
            assert through("RbacV1Subject", doc["spec"]["owner"]) == doc["spec"]["owner"]
        else:
            assert doc["apiVersion"] == "security.istio.io/v1beta1"
            rule = doc["spec"]["rules"][0]
            assert rule["when"][0]["key"] == "request.headers[kubeflow-userid]"
            assert rule["when"][0]["values"] == [doc["metadata"]["annotations"]["user"]]
    bob = next(d for d in docs if d["kind"] == "RoleBinding" and "bob" in d["metadata"]["name"])
    assert bob["metadata"]["annotations"] == {"role": "edit", "user": "bob@example.com"}
    assert bob["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                "name": "bob@example.com"}]


def test_with_no_namespaces_there_is_nothing_to_export(kiln_home: Path, tmp_path: Path):
    r = run_cli("export", "kubeflow-profiles", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert r.returncode == 3 and "no namespace has an owner" in r.stderr
