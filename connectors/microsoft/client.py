"""A thin Microsoft Graph client on httpx: auth, Prefer headers, paging, throttling, errors.

Every Graph answer is mapped onto `connectors.errors` here and nowhere else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.errors import (
    Collision,
    ConnectorError,
    CursorExpired,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from connectors.microsoft.oauth import MicrosoftConfig, TokenSource

__all__ = ["MAX_CONCURRENT_PER_MAILBOX", "GraphClient", "mailbox_semaphore", "segment"]

# Outlook allows 4 concurrent requests per app and mailbox; more just earns 429s.
MAX_CONCURRENT_PER_MAILBOX = 4
# Exchange's default timezone would be the mailbox's; UTC makes times unambiguous. Immutable ids
# survive moves between folders, so stored event ids stay valid.
PREFER = 'outlook.timezone="UTC", IdType="ImmutableId"'
_CURSOR_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}

_semaphores: dict[str, threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def mailbox_semaphore(home_account_id: str) -> threading.BoundedSemaphore:
    """The process-wide semaphore bounding concurrent Graph calls for one mailbox."""
    with _semaphores_lock:
        if home_account_id not in _semaphores:
            _semaphores[home_account_id] = threading.BoundedSemaphore(MAX_CONCURRENT_PER_MAILBOX)
        return _semaphores[home_account_id]


def segment(value: str) -> str:
    """`value` quoted as one URL path segment (ids may hold '/', '+' or '=')."""
    return quote(value, safe="")


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def raise_for(response: httpx.Response) -> None:
    """Map a final (non-retried) Graph answer onto `connectors.errors`."""
    status = response.status_code
    if status < 400:
        return
    code = _error_code(response)
    what = f"Graph answered {status}" + (f" ({code})" if code else "")
    if status == 410 or (400 <= status < 500 and code.lower() in _CURSOR_CODES):
        raise CursorExpired(what)
    if status == 401:
        raise ReauthRequired(what)
    if status == 403:
        raise PermissionDenied(what)
    if status == 404:
        raise NotFound(what)
    if status == 409:
        raise Collision(what)
    if status == 429:
        raise RateLimited(_retry_after(response.headers))
    if status >= 500:
        raise TransientError(what)
    raise ConnectorError(what)


class GraphClient:
    """Graph calls for one account. One attempt per call: throttling and outages surface as
    `RateLimited(retry_after)` / `TransientError`, and the caller decides when to try again
    (a request must never sleep on Graph). The only repeat is one token refresh on a 401."""

    def __init__(self, config: MicrosoftConfig, tokens: TokenSource) -> None:
        self.base = config.graph_base.rstrip("/")
        self._tokens = tokens
        self._timeout = config.timeout
        self._http = httpx.Client(timeout=config.timeout, transport=config.graph_transport)
        self._semaphore: threading.BoundedSemaphore | None = None

    def close(self) -> None:
        self._http.close()

    def _url(self, path: str) -> str:
        if path.startswith("https://"):
            # paging links: never send the bearer token anywhere but Graph
            if not path.startswith(self.base + "/"):
                raise ConnectorError("Graph returned a link to an unexpected host")
            return path
        return self.base + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        page_size: int | None = None,
    ) -> Any:
        """One Graph call; returns the decoded JSON body (None for empty answers)."""
        response = self._send(method, self._url(path), params, json, page_size)
        raise_for(response)
        if not response.content:
            return None
        return response.json()

    def pages(
        self, path: str, params: dict[str, str] | None = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following `@odata.nextLink` (which keeps the query)."""
        url: str | None = path
        while url is not None:
            page: dict[str, Any] = self.request("GET", url, params=params, page_size=page_size)
            yield page
            url, params = page.get("@odata.nextLink"), None

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, str] | None,
        json: Any,
        page_size: int | None,
    ) -> httpx.Response:
        if self._semaphore is None:
            self._semaphore = mailbox_semaphore(self._tokens.home_account_id)
        prefer = PREFER + (f", odata.maxpagesize={page_size}" if page_size else "")
        refreshed = False
        while True:
            token = self._tokens.access_token(force_refresh=refreshed)
            headers = {"Authorization": f"Bearer {token}", "Prefer": prefer}
            # More than 4 concurrent calls per mailbox only earn 429s: wait for a turn, but
            # not forever (a caller in a request must answer).
            if not self._semaphore.acquire(timeout=self._timeout):
                raise RateLimited(None, "too many concurrent Graph calls for this mailbox")
            try:
                response = self._http.request(
                    method, url, params=params, json=json, headers=headers
                )
            except httpx.TimeoutException:
                raise TransientError("Graph did not answer in time") from None
            except httpx.TransportError:
                raise TransientError("could not reach Graph") from None
            finally:
                self._semaphore.release()
            if response.status_code == 401 and not refreshed:
                # the cached token may have been revoked or expired early: refresh once
                refreshed = True
                continue
            if response.status_code == 503 and response.headers.get("retry-after"):
                raise RateLimited(_retry_after(response.headers))
            return response
