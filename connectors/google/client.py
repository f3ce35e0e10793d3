"""Thin Calendar v3 access: per-thread services, one attempt per call, one error mapping."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.discovery import build
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest

from connectors.base import SaveCredentials
from connectors.errors import (
    Collision,
    ConnectorError,
    NotFound,
    RateLimited,
    ReauthRequired,
    TransientError,
    error_for_status,
    retry_after_seconds,
)
from connectors.google.oauth import GoogleConfig, dump_credentials, load_credentials

__all__ = ["MAX_BATCH", "BadRequest", "GoogleClient", "map_http_error"]

JSON = dict[str, Any]
# Google takes up to 1,000 calls in a batch but advises against large ones; writes to one
# calendar in one booking are a handful.
MAX_BATCH = 50

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


def _failure(error: HttpError, what: str, gone: type[ConnectorError] = NotFound) -> ConnectorError:
    """The typed error for one Google answer; a wait Google asked for makes it `RateLimited`."""
    failure = map_http_error(int(error.resp.status), _reason(error), what, gone=gone)
    if isinstance(failure, RateLimited) or (
        isinstance(failure, TransientError) and _retry_after(error) is not None
    ):
        failure = RateLimited(_retry_after(error), str(failure))
    return failure


def _retry_after(error: HttpError) -> float | None:
    return retry_after_seconds(error.resp.get("retry-after") if error.resp is not None else None)


def is_rate_limit(status: int, reason: str) -> bool:
    """429, or a 403 whose reason says quota rather than permission."""
    return status == 429 or (status == 403 and reason in _RATE_REASONS)


def map_http_error(
    status: int, reason: str, what: str, *, gone: type[ConnectorError] = NotFound
) -> ConnectorError:
    """The one place Google HTTP errors become `connectors.errors` (messages carry no tokens)."""
    detail = f"Google {what} failed: HTTP {status}" + (f" ({reason})" if reason else "")
    if is_rate_limit(status, reason):
        return RateLimited(None, detail)  # `execute` adds Google's Retry-After
    return error_for_status(status, detail, special={400: BadRequest, 410: gone, 412: Collision})


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
            raise _failure(error, what, gone) from None
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

    def batch_uri(self) -> str:
        """Calendar's batch endpoint next to `api_endpoint` (…/calendar/v3/ → …/batch/calendar/v3).

        The discovery document's own batch URL always names www.googleapis.com."""
        root = self.config.api_endpoint.rstrip("/").removesuffix("/calendar/v3")
        return f"{root}/batch/calendar/v3"

    def execute_batch(
        self, makes: list[Callable[[Any], Any]], what: str
    ) -> list[JSON | ConnectorError]:
        """Run the requests in one batch HTTP request (at most `MAX_BATCH`): per request its
        answer or its typed error, in order. A failure of the batch request itself raises, as
        `execute` does (nothing was done)."""
        if len(makes) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} requests per batch")
        results: dict[str, JSON | ConnectorError] = {}

        def done(request_id: str, response: Any, error: Exception | None) -> None:
            if isinstance(error, HttpError):
                results[request_id] = _failure(error, what)
            elif error is not None:
                results[request_id] = TransientError(f"Google {what} failed in a batch")
            else:
                results[request_id] = response if isinstance(response, dict) else {}

        service = self.service()
        batch = BatchHttpRequest(callback=done, batch_uri=self.batch_uri())
        for index, make in enumerate(makes):
            batch.add(make(service), request_id=str(index))
        try:
            batch.execute()
        except HttpError as error:
            raise map_http_error(int(error.resp.status), _reason(error), f"{what} batch") from None
        except BatchError:
            raise TransientError(f"Google answered the {what} batch malformed") from None
        except RefreshError as error:
            if not getattr(error, "retryable", False):
                raise ReauthRequired(f"Google refused to refresh the grant ({what})") from None
            raise TransientError(f"Google token refresh failed temporarily ({what})") from None
        except (TransportError, httplib2.HttpLib2Error, OSError) as error:
            raise TransientError(
                f"network error on Google {what} batch: {type(error).__name__}"
            ) from None
        finally:
            self._save_if_refreshed()
        missing = TransientError(f"Google did not answer every part of the {what} batch")
        return [results.get(str(index), missing) for index in range(len(makes))]

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
