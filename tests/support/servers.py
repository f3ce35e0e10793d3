"""The one way tests run a server: on 127.0.0.1 at a free port, started and awaited, stopped.

    with AsgiServer(app) as server:            # uvicorn in a thread (fakes, receivers, the app)
        httpx.get(server.base_url)
    with HandlerServer(MyHandler) as server:   # an http.server handler in a thread (raw HTTP)
        ...
    with ProcessServer(lambda port: [...]) as server:   # a child process (Xandikos)
        ...

Each kind says how to launch, whether it is ready and how to halt; `BackgroundServer` waits
for readiness (or the server's death) and stops it on exit, whatever went wrong.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import uvicorn

__all__ = [
    "AsgiServer",
    "BackgroundServer",
    "HandlerServer",
    "ProcessServer",
    "Startable",
    "accepts_connections",
    "free_port",
]

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on (also the 'broken server' address)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def accepts_connections(port: int) -> bool:
    """Whether something accepts TCP connections on the loopback port."""
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
        return True
    return False


class Startable:
    """`with thing:` starts it and stops it again on the way out, whatever happened."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class BackgroundServer(Startable):
    """Start on enter (returning once ready), stop on exit; subclasses launch, probe and halt."""

    start_timeout = 20.0

    def __init__(self, port: int) -> None:
        self.port = port
        self.base_url = f"http://{HOST}:{port}"
        self.url = self.base_url + "/"

    def _launch(self) -> None:
        raise NotImplementedError

    def _ready(self) -> bool:
        return accepts_connections(self.port)

    def _alive(self) -> bool:
        return True

    def _halt(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        """Launch and wait until the server answers; it is stopped again if it never does."""
        self._launch()
        deadline = time.monotonic() + self.start_timeout
        while not self._ready():
            if not self._alive() or time.monotonic() > deadline:
                self._halt()
                raise RuntimeError(f"{type(self).__name__} on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._halt()


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))  # bound now, so the port is known before the server runs
    return sock


class AsgiServer(BackgroundServer):
    """uvicorn serving an ASGI app in a daemon thread (`lifespan`: run the app's start-up)."""

    def __init__(self, app: Any, *, lifespan: bool = False, access_log: bool = False) -> None:
        self._sock = _loopback_socket()
        super().__init__(self._sock.getsockname()[1])
        logs: dict[str, Any] = (
            # through the root logger's handlers, as `growthguard serve` runs it
            {"log_level": "info", "log_config": None}
            if access_log
            else {"log_level": "warning", "access_log": False}
        )
        config = uvicorn.Config(app, lifespan="on" if lifespan else "off", ws="none", **logs)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def _launch(self) -> None:
        self._thread.start()

    def _ready(self) -> bool:
        return bool(self._server.started)

    def _alive(self) -> bool:
        return self._thread.is_alive()

    def _halt(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=20)
        self._sock.close()


class HandlerServer(BackgroundServer):
    """A `http.server` request handler class served by a thread per request."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer((HOST, 0), handler)  # listening from here on
        self._server.daemon_threads = True
        super().__init__(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _launch(self) -> None:
        self._thread.start()

    def _alive(self) -> bool:
        return self._thread.is_alive()

    def _halt(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


class ProcessServer(BackgroundServer):
    """A child process listening on a free port; `command(port)` is its argv, output to `log`."""

    def __init__(self, command: Callable[[int], list[str]], log: Path) -> None:
        super().__init__(free_port())
        self._argv = command(self.port)
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def _launch(self) -> None:
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(self._argv, stdout=log, stderr=log, env={**os.environ})

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _halt(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
