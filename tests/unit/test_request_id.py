"""Every response names its request: a plain id from a proxy is kept, anything else replaced."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from app.logsetup import REQUEST_ID
from app.middleware.request_id import RequestIdMiddleware


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(REQUEST_ID.get() or "")


def client() -> TestClient:
    app = Starlette(routes=[Route("/", echo)])
    app.add_middleware(RequestIdMiddleware)
    return TestClient(app)


def test_each_request_gets_its_own_id_and_logs_see_it() -> None:
    with client() as http:
        answers = [http.get("/") for _ in range(50)]
    ids = [a.headers["x-request-id"] for a in answers]
    assert len(set(ids)) == 50
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert [a.text for a in answers] == ids


def test_a_plain_proxy_id_is_kept_and_a_hostile_one_replaced() -> None:
    with client() as http:
        kept = http.get("/", headers={"X-Request-ID": "edge-1234.abcd_EF"})
        hostile = http.get("/", headers={"X-Request-ID": "x\r\nSet-Cookie: a=b" + "y" * 70})
        short = http.get("/", headers={"X-Request-ID": "abc"})
    assert kept.headers["x-request-id"] == "edge-1234.abcd_EF"
    for answer in (hostile, short):
        assert len(answer.headers["x-request-id"]) == 32
        assert "set-cookie" not in answer.headers
