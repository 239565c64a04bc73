"""Running the inference app: one process, or a supervisor with N forked workers on one socket.

The listening socket is bound once, before any worker starts, so `--port 0` has one real port
and every worker accepts on it (the kernel spreads connections). SIGHUP makes every worker
reload its models from the service's catalog record; SIGTERM/SIGINT stop them gracefully.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable

from kiln.errors import UserError
from kiln.serving.config import ServeConfig


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror}",
                        hint="pick another --port (0 chooses a free one)") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(config: ServeConfig, sock: socket.socket | None = None,
          on_bound: Callable[[socket.socket], None] | None = None) -> None:
    """Serve in the foreground until SIGINT or SIGTERM."""
    sock = sock or bind(config.host, config.port)
    if on_bound is not None:
        on_bound(sock)
    if config.workers <= 1:
        _run_worker(config, sock)
    else:
        _supervise(config, sock)


def _reload_config(config: ServeConfig) -> ServeConfig:
    if config.service is None:
        return config
    from kiln.serving.services import load_config

    return load_config(config.service)


def _run_worker(config: ServeConfig, sock: socket.socket) -> None:
    import uvicorn

    from kiln.serving.app import InferenceApp

    app = InferenceApp(config)
    uv = uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning",
                        timeout_keep_alive=75, server_header=False, date_header=False)
    server = uvicorn.Server(uv)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def on_hup() -> None:
            async def reload() -> None:
                try:
                    await app.reload(_reload_config(app.repo.config))
                    print(f"[kiln serve {os.getpid()}] reloaded models", flush=True)
                except Exception as e:  # keep serving what we have
                    print(f"[kiln serve {os.getpid()}] reload failed: {e}", flush=True)

            loop.create_task(reload())

        loop.add_signal_handler(signal.SIGHUP, on_hup)
        await server.serve(sockets=[sock])

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # uvloop is optional (not on Windows)
        asyncio.run(main())


def _supervise(config: ServeConfig, sock: socket.socket) -> None:
    # Workers each count requests; prometheus_client sums them through files in this folder.
    metrics_dir = tempfile.mkdtemp(prefix="kiln-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            _forget_parent_state()
            code = 0
            try:
                _run_worker(config, sock)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
        children.add(pid)

    def forward(sig: int, _frame: object) -> None:
        nonlocal stopping
        if sig != signal.SIGHUP:
            stopping = True
        for pid in list(children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                children.discard(pid)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    for _ in range(config.workers):
        spawn()
    try:
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            children.discard(pid)
            if not stopping:
                print(f"[kiln serve] worker {pid} exited ({status}); starting another",
                      flush=True)
                spawn()
    finally:
        import shutil

        shutil.rmtree(metrics_dir, ignore_errors=True)


def _forget_parent_state() -> None:
    """A forked worker must not reuse the parent's database connections."""
    from kiln import runtime

    runtime.forget_after_fork()


def main(argv: list[str] | None = None) -> None:
    """`python -m kiln.serving.server --service NAME`: a managed service's process."""
    import argparse

    from kiln.serving import services

    parser = argparse.ArgumentParser(prog="kiln-serve-worker")
    parser.add_argument("--service", required=True)
    args = parser.parse_args(argv)
    config = services.load_config(args.service)
    sock = bind(config.host, config.port)
    services.mark_running(args.service, pid=os.getpid(), port=sock.getsockname()[1])
    try:
        serve(config, sock)
    finally:
        services.mark_stopped(args.service)


if __name__ == "__main__":
    main()
