"""Run the real app over HTTP behind a pretend public https name, for end-to-end tests.

Providers only push to https URLs, so the app's public URL is https://gg.test; the test's
HTTP client and the fakes' deliveries are routed to the app's loopback port, as a
TLS-terminating proxy would do in front of a real deployment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.servers import AsgiServer

PUBLIC_URL = "https://gg.test"


class AppServer(AsgiServer):
    """uvicorn serving the app (with its lifespan) on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, *, access_log: bool = False) -> None:
        super().__init__(app, lifespan=True, access_log=access_log)


def _needs_csrf(request: httpx.Request) -> bool:
    return (
        request.method not in ("GET", "HEAD", "OPTIONS")
        and request.url.host == "gg.test"
        and "gg_session=" in request.headers.get("cookie", "")
        and "authorization" not in request.headers
        and "x-csrf-token" not in request.headers
    )


class PublicNameTransport(httpx.BaseTransport):
    """Route public host names to loopback servers (the app, a provider's fake); others pass."""

    def __init__(self, routes: dict[str, str]) -> None:
        self._routes = {host: httpx.URL(base) for host, base in routes.items()}
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if _needs_csrf(request):
            # As the dashboard's own scripts would: a signed-in browser's writes carry the
            # session's CSRF token (the app refuses cookie-authenticated writes without it).
            probe = httpx.Request(
                "GET",
                request.url.copy_with(path="/users/me/csrf-token", query=None),
                headers={"cookie": request.headers["cookie"]},
            )
            answer = self._route(probe)
            answer.read()
            if answer.status_code == 200:
                request.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return self._route(request)

    def _route(self, request: httpx.Request) -> httpx.Response:
        target = self._routes.get(request.url.host)
        if target is None:
            return self._inner.handle_request(request)
        # A copy: the client keeps the original URL, so cookies stay with the public name.
        routed = httpx.Request(
            request.method,
            request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return self._inner.handle_request(routed)

    def close(self) -> None:
        self._inner.close()


def browser(app_base: str, hosts: dict[str, str] | None = None) -> httpx.Client:
    """A cookie-keeping client, as a person's browser would be (`hosts`: extra name -> base)."""
    routes = {"gg.test": app_base, **(hosts or {})}
    return httpx.Client(base_url=PUBLIC_URL, transport=PublicNameTransport(routes), timeout=15.0)


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.01) -> Any:
    """Poll `check` until it returns something truthy; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
