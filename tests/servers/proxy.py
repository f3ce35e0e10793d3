"""A misbehaving front for a real CalDAV server: forwards requests, or breaks them on purpose.

Failures are planned like every fake's (`proxy.faults.fail_next(...)`, tests/fakes/faults.py):
a fixed status and headers, after a hang if asked. Rules change what is forwarded: they match a
method (and optionally a path part) and strip a response header, run a callback just before
forwarding (to change the resource behind the client's back), or lose the answer. Every
request is logged.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Self
from urllib.parse import urlsplit

from tests.fakes.faults import Faults
from tests.support.servers import HandlerServer, Startable


@dataclass
class Rule:
    method: str
    path_contains: str = ""
    strip: tuple[str, ...] = ()  # response headers to drop when forwarding
    before: Callable[[], None] | None = None  # run once before forwarding
    times: int | None = None  # how often it applies (None: always)
    drop_after_forward: bool = False  # the server did it, but the answer is lost (a crash)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return method == self.method and self.path_contains in path


class FaultProxy(Startable):
    """Serve on 127.0.0.1:<free port>, forwarding to `upstream` unless a rule says otherwise."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.faults = Faults()
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                # the client may give up (a timeout test): then there is nobody to answer
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    proxy._handle(self)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = _any
            do_MKCALENDAR = do_OPTIONS = do_PROPPATCH = do_HEAD = do_POST = _any

        self._server = HandlerServer(Handler)
        self.url = self._server.url

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def requests(self, method: str) -> list[str]:
        return [path for m, path in self.log if m == method]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        method, path = handler.command, handler.path
        self.log.append((method, path))
        fault = self.faults.take(method, path, body)
        if fault is not None:
            payload = str(fault.body or "").encode()
            handler.send_response(fault.status)
            for name, value in fault.response_headers().items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        rule = next((r for r in self.rules if r.matches(method, path)), None)
        if rule is not None and rule.times is not None:
            rule.times -= 1
        if rule is not None and rule.before is not None:
            rule.before()
        connection = http.client.HTTPConnection(
            self.upstream.hostname or "127.0.0.1", self.upstream.port or 80, timeout=30
        )
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            headers["Host"] = self.upstream.netloc
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if rule is not None and rule.drop_after_forward:
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
                return
            handler.send_response(response.status, response.reason)
            dropped = {s.lower() for s in (rule.strip if rule is not None else ())}
            for name, value in response.getheaders():
                lowered = name.lower()
                if lowered in dropped or lowered in ("transfer-encoding", "content-length"):
                    continue
                if lowered == "location":
                    value = value.replace(f"http://{self.upstream.netloc}", self.url.rstrip("/"))
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        finally:
            connection.close()
