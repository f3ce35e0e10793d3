"""The one way tests run servers (tests/support/servers.py): ready on enter, gone on exit."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.servers import AsgiServer, HandlerServer, ProcessServer, accepts_connections


async def _hello(_: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


def test_an_asgi_app_answers_inside_the_block_and_not_after() -> None:
    with AsgiServer(Starlette(routes=[Route("/", _hello)])) as server:
        assert httpx.get(server.url).text == "hello"
    assert not accepts_connections(server.port)


def test_a_handler_answers_inside_the_block_and_not_after() -> None:
    with HandlerServer(_Hello) as server:
        assert httpx.get(server.url).text == "hello"
    assert not accepts_connections(server.port)


def test_a_process_that_dies_before_listening_fails_the_start(tmp_path: Path) -> None:
    server = ProcessServer(
        lambda port: [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "log"
    )
    with pytest.raises(RuntimeError, match="did not start"):
        server.start()


def test_a_process_server_is_reached_on_its_port_and_stopped(tmp_path: Path) -> None:
    def command(port: int) -> list[str]:
        serve = ["--bind", "127.0.0.1", "--directory", str(tmp_path), str(port)]
        return [sys.executable, "-m", "http.server", *serve]

    with ProcessServer(command, tmp_path / "log") as server:
        assert httpx.get(server.url).status_code == 200
    assert not accepts_connections(server.port)
