"""Buckets on one server with users: who may read, publish and manage; nothing leaked to a
caller who may not read; bad names, a snapshot that does not exist, a deleted bucket, two
publishers racing; and a peer whose version lists pieces it never sends."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.identity.conftest import Team


def upload(team: Team, who: str, volume: str, files: dict[str, bytes]) -> None:
    with team.client(who) as c:
        assert c.post("/volumes", json={"name": volume}).status_code == 201
        for path, data in files.items():
            r = c.put(f"/volumes/{volume}/files/content", params={"path": path},
                      files={"file": (path, data)})
            assert r.status_code == 201, r.text


def test_who_may_read_publish_and_manage_a_bucket(team: Team):
    upload(team, "editor", "feat", {"a.csv": b"1,2\n" * 1000})
    with team.client("editor") as editor:
        r = editor.post("/registry/buckets/editor/feat/versions", json={"source": "feat",
                                                                         "message": "v1"})
        assert r.status_code == 201, r.text
        # not under someone else's name, nor a group one is not in
        r = editor.post("/registry/buckets/viewer/feat/versions", json={"source": "feat"})
        assert r.status_code == 403
        blobs = editor.get("/registry/buckets/editor/feat/versions/1/blobs").json()["blobs"]
    with team.client("stranger") as stranger:
        # private: answered as if it did not exist, listing included
        for path in ("/registry/buckets/editor/feat", "/registry/buckets/editor/nothing",
                     "/registry/buckets/editor/feat/versions/1",
                     "/registry/buckets/editor/feat/versions/1/blobs"):
            r = stranger.get(path)
            assert r.status_code == 404 and "you may read" in r.json()["error"]["message"], path
        r = stranger.post("/registry/buckets/editor/feat/versions/1/pack",
                          json={"ids": [blobs[0][:2]]})
        assert r.status_code == 404 and b"KILNPAK" not in r.content
        assert stranger.get("/registry/buckets").json()["buckets"] == []
    with team.client("viewer") as viewer:  # only the owner (or a manage grant) shares
        r = viewer.put("/registry/buckets/editor/feat/grants/user/stranger",
                       json={"level": "read"})
        assert r.status_code == 404
    with team.client("editor") as editor:
        r = editor.put("/registry/buckets/editor/feat/grants/user/stranger",
                       json={"level": "read"})
        assert r.status_code == 200, r.text
    # a read grant: the bucket, its versions and its pieces, nothing more
    with team.client("stranger") as stranger:
        assert stranger.get("/registry/buckets/editor/feat/versions/1").status_code == 200
        r = stranger.post("/registry/buckets/editor/feat/versions/1/pack",
                          json={"ids": [blobs[0][:2]]})
        assert r.status_code == 200 and r.content.endswith(b"KILNPAK1")
        assert stranger.get("/registry/buckets").json()["buckets"][0]["bucket"] == "editor/feat"
        assert stranger.get("/registry/buckets/viewer/feat").status_code == 404
    with team.client("editor") as editor:
        assert editor.delete("/registry/buckets/editor/feat/grants/user/stranger") \
            .status_code == 200
        r = editor.patch("/registry/buckets/editor/feat", json={"visibility": "public"})
        assert r.status_code == 200 and r.json()["visibility"] == "public"
    with team.client("stranger") as stranger:
        assert [b["bucket"] for b in stranger.get("/registry/buckets").json()["buckets"]] == [
            "editor/feat"]
        r = stranger.post("/registry/buckets/editor/feat/versions/1/pack",
                          json={"ids": [blobs[0][:2]]})
        assert r.status_code == 200 and r.content.endswith(b"KILNPAK1")
        # asking a readable version for a piece it does not hold: refused, whatever it is
        r = stranger.post("/registry/buckets/editor/feat/versions/1/pack",
                          json={"ids": [["d", "0" * 64]]})
        assert r.status_code == 400 and "not part of this version" in r.text
        assert stranger.patch("/registry/buckets/editor/feat",
                              json={"visibility": "private"}).status_code == 403
        assert stranger.delete("/registry/buckets/editor/feat").status_code == 403
        r = stranger.post("/registry/buckets/editor/feat/versions", json={"source": "feat"},
                          headers={"X-Kiln-Namespace": "team-a"})
        assert r.status_code == 403


def test_bad_input_is_refused_and_changes_nothing(team: Team):
    upload(team, "editor", "feat", {"a.txt": b"a"})
    with team.client("editor") as editor:
        for bad in ("editor/..", "editor/a..b", "editor/a/b", "editor/ＡＢ", "editor/churn‐data",
                    "editor/-x", "Editor/x"):
            owner, _, name = bad.partition("/")
            r = editor.post(f"/registry/buckets/{owner}/{name}/versions",
                            json={"source": "feat"})
            assert r.status_code in (400, 404), (bad, r.text)
        r = editor.post("/registry/buckets/editor/feat/versions",
                        json={"source": "feat:0123456789ab"})
        assert r.status_code == 404 and "snapshot" in r.json()["error"]["message"]
        r = editor.post("/registry/buckets/editor/feat/versions", json={"source": "nothing"})
        assert r.status_code == 404 and "neither a volume nor a run" in r.text
        assert editor.get("/registry/buckets").json()["buckets"] == []
        # publishing on top of a version that is no longer the head: a conflict
        assert editor.post("/registry/buckets/editor/feat/versions",
                           json={"source": "feat"}).status_code == 201
        r = editor.post("/registry/buckets/editor/feat/versions",
                        json={"source": "feat", "parent": 0})
        assert r.status_code == 409 and "moved to version 1" in r.text
        # a deleted bucket: its subscribers are told, nobody can follow it
        assert editor.delete("/registry/buckets/editor/feat").status_code == 200
        r = editor.post("/subscriptions", json={"bucket": "editor/feat", "to": "copy"})
        assert r.status_code == 404 and "deleted" in r.text
        assert editor.get("/subscriptions").json()["subscriptions"] == []
        r = editor.post("/subscriptions", json={"bucket": "editor/x", "to": "../etc"})
        assert r.status_code == 400


def test_two_publishers_racing_one_wins_the_other_is_told(team: Team):
    upload(team, "editor", "feat", {"a.txt": b"a" * 10_000})
    with team.client("editor") as editor:
        assert editor.post("/registry/buckets/editor/feat/versions",
                           json={"source": "feat"}).status_code == 201
    answers: list[int] = []

    def one() -> None:
        with team.client("editor") as c:
            answers.append(c.post("/registry/buckets/editor/feat/versions",
                                  json={"source": "feat", "parent": 1}).status_code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 409, 409, 409]
    with team.client("editor") as editor:
        assert editor.get("/registry/buckets/editor/feat").json()["head"] == 2


class Hostile:
    """A peer (the other end of the protocol) whose version lists fewer pieces than its
    manifest reaches: the receiver must walk the manifest itself and refuse."""

    label = "hostile-peer"
    received = 0

    def __init__(self, real: Any) -> None:
        self.real = real

    def bucket(self, ref: str) -> dict[str, Any]:
        return self.real.bucket(ref)

    def version(self, ref: str, number: int | str | None) -> dict[str, Any]:
        return self.real.version(ref, number)

    def blobs(self, ref: str, number: int) -> list[tuple[str, str, int]]:
        return [b for b in self.real.blobs(ref, number) if b[0] != "d"][:1]

    def pack(self, ref: str, number: int, ids: list[tuple[str, str]]) -> bytes:
        return self.real.pack(ref, number, ids)


def test_a_manifest_whose_pieces_never_arrived_is_refused(kiln_home: Path, monkeypatch):
    from kiln.errors import StoreError
    from kiln.identity.model import LOCAL
    from kiln.registry import publish, subscriptions, sync
    from kiln.runtime import Runtime
    from kiln.volumes import volumes

    rt = Runtime.open()
    vol = volumes.create("data", rt=rt)
    (Path(vol.path) / "big.bin").write_bytes(b"x" * 3_000_000)
    publish.publish(rt, "data", "local/data", who=LOCAL)
    other = Runtime.open(rt.home.for_namespace("team-b"))
    sub = subscriptions.create(other.catalog, "local/data", target_kind="volume", target="copy",
                               sources=[""], token=None, by="local")
    real = sync.sources_of
    monkeypatch.setattr(sync, "sources_of", lambda *a, **k: [Hostile(s) for s in real(*a, **k)])
    with pytest.raises(StoreError, match="never arrived"):
        sync.sync(other, sub.id, who=LOCAL)
    assert subscriptions.get(other.catalog, sub.id).version == 0
    assert not any(s.volume == "copy" for s in __import__(
        "kiln.catalog.volumes", fromlist=["x"]).list_snapshots(other.catalog))


def test_the_registry_routes_need_sign_in(team: Team):
    r = httpx.get(f"{team.api}/registry/buckets")
    assert r.status_code == 401
