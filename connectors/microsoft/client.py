"""A thin Microsoft Graph client on httpx: auth, Prefer headers, paging, throttling, errors.

Every Graph answer is mapped onto `connectors.errors` here and nowhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from connectors.errors import (
    ConnectorError,
    CursorExpired,
    RateLimited,
    TransientError,
    error_for_status,
)
from connectors.microsoft.oauth import MicrosoftConfig, TokenSource

__all__ = [
    "MAX_BATCH",
    "MAX_CONCURRENT_PER_MAILBOX",
    "BatchPart",
    "GraphClient",
    "mailbox_semaphore",
    "segment",
]

# Outlook allows 4 concurrent requests per app and mailbox; more just earns 429s.
MAX_CONCURRENT_PER_MAILBOX = 4
MAX_BATCH = 20  # requests in one JSON batch (Graph's limit)
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
    raise error_for_status(status, what, retry_after=response.headers.get("retry-after"))


@dataclass(frozen=True)
class BatchPart:
    """One request of a JSON batch: `path` relative to the Graph version root."""

    method: str
    path: str
    params: dict[str, str] | None = None
    json: Any = None


def _part_answer(reply: dict[str, Any] | None) -> Any:
    """A batch answer's body, or the typed error its status means (as `raise_for` maps it)."""
    if reply is None:
        return TransientError("Graph left a request of the batch unanswered")
    try:
        status = int(reply.get("status", 0))
    except (TypeError, ValueError):
        return TransientError("Graph answered a batch request without a status")
    headers = reply.get("headers")
    response = httpx.Response(
        status,
        headers=headers if isinstance(headers, dict) else {},
        json=reply.get("body"),
    )
    try:  # a 503 with Retry-After counts as throttling here too (`error_for_status`)
        raise_for(response)
    except ConnectorError as error:
        return error
    return reply.get("body")


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

    def batch(self, parts: list[BatchPart]) -> list[Any]:
        """Several calls in one JSON batch request (at most `MAX_BATCH`): per part its decoded
        body, or the `ConnectorError` its own status means, in order. Parts do not depend on
        each other. A failure of the batch request itself raises (then none was run)."""
        if not parts:
            return []
        if len(parts) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} requests per Graph batch")
        requests = []
        for index, part in enumerate(parts):
            url = part.path + (f"?{urlencode(part.params, quote_via=quote)}" if part.params else "")
            request: dict[str, Any] = {
                "id": str(index + 1),
                "method": part.method,
                "url": url,
                "headers": {"Prefer": PREFER},
            }
            if part.json is not None:
                request["body"] = part.json
                request["headers"]["Content-Type"] = "application/json"
            requests.append(request)
        answer = self.request("POST", "/$batch", json={"requests": requests})
        replies = answer.get("responses") if isinstance(answer, dict) else None
        by_id = {
            str(reply.get("id")): reply
            for reply in (replies if isinstance(replies, list) else [])
            if isinstance(reply, dict)
        }
        return [_part_answer(by_id.get(str(index + 1))) for index in range(len(parts))]

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
            return response
