"""The older topology, for profiling: the Amazon stand-in, the worker and the web app in the
bench's own process (one GIL), where the bench can wrap the web app and its Temporal client to
mark where a request's time goes inside Flask (`Marks`)."""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from temporalio.client import Client
from werkzeug.serving import ThreadedWSGIServer, make_server

import sandbox
from core.config import load_config
from core.extensions import temporal
from harness.parts import bench_settings
from harness.processes import LOOPBACK
from tests.support import BackgroundLoop, Mailbox
from web import create_app
from worker import build_worker


class Marks:
    """Wall-clock marks per bench request: WSGI start/end and the Temporal call inside it.

    The web app is wrapped (WSGI middleware) and `temporal.run` is wrapped on the one
    TemporalClient instance the views use; neither changes what the app does. Only possible when
    the web app runs in this process (`--in-process`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.by_id: dict[str, dict[str, float]] = {}
        self.profile: pstats.Stats | None = None
        self.profiling = False

    def wrap_app(self, app: Flask) -> None:
        inner = app.wsgi_app

        def timed(environ, start_response):
            bench_id = environ.get("HTTP_X_BENCH_ID")
            if bench_id is None:
                return inner(environ, start_response)
            marks = {"wsgi_start": time.time()}
            self._local.marks = marks
            profiler = cProfile.Profile() if self.profiling else None
            try:
                if profiler is not None:
                    try:
                        profiler.enable()
                    except ValueError:  # Python 3.12+ allows one active profiler at a time
                        profiler = None
                try:
                    return inner(environ, start_response)
                finally:
                    if profiler is not None:
                        profiler.disable()
            finally:
                marks["wsgi_end"] = time.time()
                self._local.marks = None
                with self._lock:
                    self.by_id[bench_id] = marks
                    if profiler is not None:
                        if self.profile is None:
                            self.profile = pstats.Stats(profiler)
                        else:
                            self.profile.add(profiler)

        app.wsgi_app = timed

    def wrap_temporal(self) -> Callable[[], None]:
        original = temporal.run

        def timed(call, timeout):
            marks = getattr(self._local, "marks", None)
            if marks is not None:
                marks.setdefault("temporal_start", time.time())
            try:
                return original(call, timeout)
            finally:
                if marks is not None:
                    marks["temporal_end"] = time.time()

        temporal.run = timed
        return lambda: vars(temporal).pop("run", None)

    def get(self, bench_id: str) -> dict[str, float]:
        with self._lock:
            return dict(self.by_id.get(bench_id, {}))


def listening_socket() -> socket.socket:
    """A loopback socket with the backlog werkzeug itself would use, so its port is known early."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen(ThreadedWSGIServer.request_queue_size)
    return sock


def serve(app: Flask, sock: socket.socket, stack: contextlib.ExitStack, name: str) -> str:
    """Serve `app` over HTTP on `sock` in a thread until the stack unwinds; return its URL."""
    server = make_server(LOOPBACK, sock.getsockname()[1], app, threaded=True, fd=sock.fileno())
    sock.close()  # the server holds its own duplicate of the descriptor
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(10)

    stack.callback(stop)
    return f"http://{LOOPBACK}:{server.port}"


def start_in_process(
    stack: contextlib.ExitStack,
    workdir: Path,
    loop: BackgroundLoop,
    client: Client,
    mailbox: Mailbox,
    task_queue: str,
    marks: Marks,
) -> tuple[str, str, dict[str, str]]:
    """The older topology: stand-in, web app and worker in this process, sharing its GIL."""
    # Both URLs must be known before either app is built: the stand-in registers the app's
    # callback, and the app points at the stand-in.
    app_socket = listening_socket()
    amazon_socket = listening_socket()
    app_url = f"http://{LOOPBACK}:{app_socket.getsockname()[1]}"
    amazon = sandbox.create_app({"SANDBOX_REDIRECT_URIS": f"{app_url}/amazon/callback"})
    amazon_url = serve(amazon, amazon_socket, stack, "amazon-stand-in")
    target = client.service_client.config.target_host
    settings = bench_settings(workdir, app_url, amazon_url, target, mailbox.port, task_queue)
    config = load_config({**os.environ, **settings})

    app = create_app(config)
    assert app.config.get("WTF_CSRF_ENABLED", True), "CSRF must be on, as in production"
    with app.app_context():
        upgrade()
    marks.wrap_app(app)
    stack.callback(marks.wrap_temporal())
    served_url = serve(app, app_socket, stack, "web")
    assert served_url == app_url

    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity")
    stack.callback(executor.shutdown)
    # As the worker process: an app (and connection pool) of its own.
    worker_app = create_app(config)

    async def build():  # a Worker must be built on the loop that runs it
        return build_worker(client, worker_app, executor)

    worker = loop.run(build())
    task = loop.submit(worker.run())

    def stop_worker() -> None:
        loop.run(worker.shutdown(), timeout=60)
        task.result(timeout=30)

    stack.callback(stop_worker)
    return app_url, amazon_url, settings


def write_profile(marks: Marks, path: Path) -> None:
    if marks.profile is None:
        return
    out = io.StringIO()
    marks.profile.stream = out
    marks.profile.sort_stats("cumulative").print_stats(60)
    marks.profile.sort_stats("tottime").print_stats(40)
    path.write_text(out.getvalue())
    print(f"\nprofile of the web thread (send and callback requests) written to {path}")
