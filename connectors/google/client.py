"""Thin Calendar v3 access: per-thread services, one attempt per call, one error mapping."""

from __future__ import annotations

import email.utils
import functools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from connectors.base import SaveCredentials
from connectors.errors import (
    Collision,
    ConnectorError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from connectors.google.oauth import GoogleConfig, dump_credentials, load_credentials

__all__ = ["BadRequest", "GoogleClient", "map_http_error"]

JSON = dict[str, Any]

_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "usageLimits"}


class BadRequest(ConnectorError):
    """Google rejected the request as invalid (HTTP 400)."""


def _reason(error: HttpError) -> str:
    try:
        body = json.loads(error.content)
        detail = body["error"]
        errors = detail.get("errors") or []
        if errors and errors[0].get("reason"):
            return str(errors[0]["reason"])
        return str(detail.get("status") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""


def _retry_after(error: HttpError) -> float | None:
    value = error.resp.get("retry-after") if error.resp is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:  # the HTTP-date form
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def is_rate_limit(status: int, reason: str) -> bool:
    """429, or a 403 whose reason says quota rather than permission."""
    return status == 429 or (status == 403 and reason in _RATE_REASONS)


def map_http_error(
    status: int, reason: str, what: str, *, gone: type[ConnectorError] = NotFound
) -> ConnectorError:
    """The one place Google HTTP errors become `connectors.errors` (messages carry no tokens)."""
    detail = f"Google {what} failed: HTTP {status}" + (f" ({reason})" if reason else "")
    if is_rate_limit(status, reason):
        return RateLimited(None, detail)
    if status == 400:
        return BadRequest(detail)
    if status == 401:
        return ReauthRequired(detail)
    if status == 403:
        return PermissionDenied(detail)
    if status == 404:
        return NotFound(detail)
    if status in (409, 412):
        return Collision(detail)
    if status == 410:
        return gone(detail)
    if status >= 500 or status == 408:
        return TransientError(detail)
    return ConnectorError(detail)


def _call_with_token(
    make: Callable[[Any, str | None], Any], token: str | None, service: Any
) -> Any:
    return make(service, token)


class GoogleClient:
    """Executes Calendar v3 requests for one account.

    httplib2 is not thread-safe, so every thread gets its own `Http` and service object; the
    credentials are shared, and whenever a call refreshed them `save` gets the new blob.
    """

    def __init__(
        self,
        config: GoogleConfig,
        credentials: bytes,
        save: SaveCredentials,
    ) -> None:
        self.config = config
        self._credentials = load_credentials(config, credentials)
        if not (self._credentials.token or self._credentials.refresh_token):
            raise ReauthRequired("stored Google credentials hold no token")
        self._save = save
        self._local = threading.local()
        self._lock = threading.Lock()
        self._saved_token = self._credentials.token

    def service(self) -> Any:
        """This thread's Calendar v3 service (built from the bundled discovery document)."""
        service = getattr(self._local, "service", None)
        if service is None:
            http = google_auth_httplib2.AuthorizedHttp(
                self._credentials, http=httplib2.Http(timeout=self.config.timeout)
            )
            service = build(
                "calendar",
                "v3",
                http=http,
                client_options={"api_endpoint": self.config.api_endpoint},
                static_discovery=True,
                cache_discovery=False,
            )
            self._local.service = service
        return service

    def execute(
        self,
        make: Callable[[Any], Any],
        what: str,
        *,
        gone: type[ConnectorError] = NotFound,
    ) -> JSON:
        """Run `make(service)` once; failures raise typed errors (`RateLimited` carries Google's
        Retry-After). Retrying is the caller's business: a request must never sleep here."""
        try:
            result = make(self.service()).execute(num_retries=0)
            return result if isinstance(result, dict) else {}
        except HttpError as error:
            status, reason = int(error.resp.status), _reason(error)
            failure = map_http_error(status, reason, what, gone=gone)
            if isinstance(failure, RateLimited) or (
                isinstance(failure, TransientError) and _retry_after(error) is not None
            ):
                failure = RateLimited(_retry_after(error), str(failure))
            raise failure from None
        except RefreshError as error:
            if not getattr(error, "retryable", False):
                raise ReauthRequired(f"Google refused to refresh the grant ({what})") from None
            raise TransientError(f"Google token refresh failed temporarily ({what})") from None
        except (TransportError, httplib2.HttpLib2Error, OSError) as error:
            raise TransientError(
                f"network error on Google {what}: {type(error).__name__}"
            ) from None
        finally:
            self._save_if_refreshed()

    def pages(
        self,
        make: Callable[[Any, str | None], Any],
        what: str,
        *,
        gone: type[ConnectorError] = NotFound,
    ) -> Iterator[JSON]:
        """Every page of a list call, following nextPageToken."""
        token: str | None = None
        while True:
            page = self.execute(functools.partial(_call_with_token, make, token), what, gone=gone)
            yield page
            token = page.get("nextPageToken")
            if not token:
                return

    def _save_if_refreshed(self) -> None:
        with self._lock:
            token = self._credentials.token
            if token and token != self._saved_token:
                self._saved_token = token
                self._save(dump_credentials(self._credentials))
