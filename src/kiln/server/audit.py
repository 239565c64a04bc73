"""The audit log's middleware: after each answer, the event `authorize` noted (a change, an
export, a sign-in) is written with the answer's status — refusals included."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kiln.audit")


class AuditLog:
    """Pure ASGI, so streamed answers pass untouched; the write goes to a worker thread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            event = scope.get("kiln.audit")
            if event is not None:
                import anyio

                await anyio.to_thread.run_sync(self._write, scope, {**event, "status": status})

    @staticmethod
    def _write(scope: Scope, event: dict[str, object]) -> None:
        from kiln.identity import audit
        from kiln.identity.model import identity_catalog

        app = scope["app"]
        try:
            audit.record(identity_catalog(app.state.rt), **event)  # type: ignore[arg-type]
        except Exception:  # a full disk must not turn a done change into an error answer
            log.exception("could not write the audit log: %s", event)
