"""The FastAPI application: routers per concern, one JSON error shape for every failure.

Errors are `{"error": {"message", "where", "hint", "reference"}}`: 404 for a record that does
not exist, 400 for bad input (422 for a malformed request, with the field in `where`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kiln._version import __version__
from kiln.errors import (
    AuthenticationError,
    ConflictError,
    KilnError,
    NotFoundError,
    PermissionDenied,
    TooManyAttempts,
    UserError,
)
from kiln.runtime import Runtime
from kiln.server.deps import error_body

if TYPE_CHECKING:
    from kiln.server.auth import Authenticator

# The HTTP status of each error, most specific first.
_STATUS: list[tuple[type[KilnError], int]] = [
    (NotFoundError, 404), (PermissionDenied, 403), (ConflictError, 409), (UserError, 400)]


def create_app(rt: Runtime | None = None, *, scheduler: bool = False,
               token: str | None = None, auth: Authenticator | None = None) -> FastAPI:
    """`scheduler`: also take scheduled snapshots and start recurring runs, in a thread.
    `auth`: who may come in (kiln.server.auth); `token` alone is a shared admin token.
    Without either the server is open: one user on loopback."""
    from fastapi import Depends

    from kiln.server import (
        identity,
        notebooks,
        pipelines,
        registry,
        runs,
        schedules,
        services,
        studies,
        volumes,
    )
    from kiln.server.auth import Authenticator
    from kiln.server.authz import authorize, check_rules

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if scheduler:
            from kiln.scheduler import run_scheduler

            thread = threading.Thread(target=run_scheduler, name="kiln-scheduler", daemon=True,
                                      kwargs={"rt": app.state.rt, "stop": stop.is_set,
                                              "log": lambda m: print(f"scheduler: {m}")})
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=30)

    app = FastAPI(title="kilnflow", version=__version__, openapi_url="/openapi.json",
                  docs_url="/api/docs", redoc_url=None, lifespan=lifespan,
                  dependencies=[Depends(authorize)])
    app.state.rt = rt or Runtime.open()
    if auth is None and token:
        auth = Authenticator(token=token)
    app.state.auth = auth

    @app.exception_handler(KilnError)
    async def _kiln_error(_: Request, e: KilnError) -> JSONResponse:
        headers = None
        if isinstance(e, TooManyAttempts):
            code, headers = 429, {"Retry-After": str(e.retry_after)}
        elif isinstance(e, AuthenticationError):
            code, headers = 401, {"WWW-Authenticate": "Bearer"}
        else:
            code = next((c for t, c in _STATUS if isinstance(e, t)), 500)
        return JSONResponse(error_body(e.message, where=e.where, hint=e.hint,
                                       reference=e.reference), status_code=code,
                            headers=headers)

    @app.exception_handler(OSError)
    async def _os_error(_: Request, e: OSError) -> JSONResponse:
        # the machine's fault (a full disk, permissions), said with the path, never a reset
        where = e.filename if isinstance(e.filename, str) else None
        return JSONResponse(error_body(f"{e.strerror or e}", where=where, hint="the server "
                                       "could not read or write its files: check its disk",
                                       reference="os-error"), status_code=500)

    @app.exception_handler(Exception)
    async def _internal(_: Request, e: Exception) -> JSONResponse:
        return JSONResponse(error_body(f"internal error: {type(e).__name__}: {e}",
                                       reference="internal-error"), status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse(error_body(str(first.get("msg", "invalid request")), where=where,
                                       reference="request-invalid"), status_code=422)

    @app.get("/api/v1/health", tags=["server"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/api/v1/namespaces", tags=["server"])
    def namespaces(request: Request) -> dict[str, Any]:
        """Namespaces in use (each keeps its own runs, volumes, pipelines and models) that
        the caller may enter, with their role in each; pick one per request with
        ?namespace=NS or the X-Kiln-Namespace header."""
        from kiln.identity.model import identity_catalog
        from kiln.identity.namespaces import roles
        from kiln.server.authz import principal

        home = app.state.rt.home
        who = principal(request)
        if who.is_admin:
            return {"namespaces": home.namespaces(), "default": home.namespace, "roles": {}}
        mine = roles(identity_catalog(app.state.rt), who)
        names = sorted(mine)
        default = home.namespace if home.namespace in mine else (names[0] if names else None)
        return {"namespaces": names, "default": default, "roles": mine}

    app.include_router(pipelines.router, prefix="/api/v1")
    app.include_router(runs.router, prefix="/api/v1")
    app.include_router(volumes.router, prefix="/api/v1")
    app.include_router(schedules.router, prefix="/api/v1")
    app.include_router(notebooks.router, prefix="/api/v1")
    app.include_router(studies.router, prefix="/api/v1")
    app.include_router(services.router, prefix="/api/v1")
    app.include_router(identity.router, prefix="/api/v1")
    app.include_router(registry.router, prefix="/api/v1")
    _dashboard(app)
    check_rules(app)
    if auth is not None:
        from kiln.server.audit import AuditLog

        app.add_middleware(AuditLog)
    from kiln.server.headers import SecurityHeaders

    app.add_middleware(SecurityHeaders)  # outermost: 401s carry the headers too
    return app


def _dashboard(app: FastAPI) -> None:
    """The dashboard: static files shipped in the package (nothing comes from the internet),
    one page whose hash routes (#/runs/ID) call the API above."""
    from pathlib import Path

    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(static / "index.html")
