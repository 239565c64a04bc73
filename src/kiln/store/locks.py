"""Store locks: snapshots and runs hold a shared lock, gc holds the exclusive one.

A lock is a small file under locks/ in the store (so it works the same on a folder and on S3).
A lock whose process is gone (same host, pid not alive) is stale at once; a lock from another
host is stale when it has not been refreshed for STALE_AFTER seconds. Holders refresh every
REFRESH_EVERY seconds from a daemon thread.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType

from kiln.errors import StoreError
from kiln.processes import pid_alive
from kiln.store.backend import Backend

STALE_AFTER = 1800.0
REFRESH_EVERY = 300.0


class StoreLock:
    def __init__(self, backend: Backend, kind: str, *, wait: float = 0.0,
                 purpose: str = "", on_acquire: Callable[[], None] | None = None) -> None:
        assert kind in ("shared", "exclusive")
        self.backend = backend
        self.kind = kind
        self.wait = wait
        self.purpose = purpose
        self.on_acquire = on_acquire
        self.name = f"locks/{uuid.uuid4().hex}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _record(self) -> bytes:
        return json.dumps({"kind": self.kind, "host": socket.gethostname(), "pid": os.getpid(),
                           "time": time.time(), "purpose": self.purpose}).encode()

    def _others(self) -> list[dict[str, object]]:
        live = []
        for name, _ in self.backend.list("locks/"):
            if name == self.name:
                continue
            try:
                rec = json.loads(self.backend.get(name))
            except (StoreError, ValueError):
                continue  # released meanwhile, or half-visible on a slow backend
            same_host = rec.get("host") == socket.gethostname()
            if (same_host and not pid_alive(int(rec.get("pid", 0)))) or \
                    time.time() - float(rec.get("time", 0)) > STALE_AFTER:
                self.backend.delete(name)  # its holder is gone
                continue
            live.append(rec)
        return live

    def acquire(self) -> StoreLock:
        deadline = time.monotonic() + self.wait
        delay = 0.05
        while True:
            self.backend.put(self.name, self._record())
            others = self._others()
            blocking = [o for o in others if self.kind == "exclusive" or o["kind"] == "exclusive"]
            if not blocking:
                break
            self.backend.delete(self.name)
            if time.monotonic() >= deadline:
                o = blocking[0]
                what = f" ({o['purpose']})" if o.get("purpose") else ""
                raise StoreError(
                    f"the store is locked by process {o['pid']} on {o['host']}{what}",
                    hint="wait for it to finish and try again; a lock whose process has died "
                         "is removed automatically")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        self._thread = threading.Thread(target=self._refresh, daemon=True, name="kiln-lock")
        self._thread.start()
        if self.on_acquire is not None:
            try:
                self.on_acquire()
            except BaseException:
                self.release()
                raise
        return self

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_EVERY):
            self.backend.put(self.name, self._record())

    def release(self) -> None:
        self._stop.set()
        self.backend.delete(self.name)

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
