"""Which account a provider failure came from, and what to tell the person about it.

Connectors know nothing about accounts, so the runtime wraps each connector it hands out:
a `ConnectorError` leaving it carries `account_id`. The API's error mapping and the tasks use
`describe_failure()` to say which account failed, its status, and when to try again.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.orm import Session

from app import metrics
from app.db.models import Account, AccountStatus
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import mark_needs_reauth
from connectors.base import CalendarConnector
from connectors.errors import (
    ConnectorError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
)

# When a provider failed without saying when to come back.
DEFAULT_RETRY_SECONDS = 30


def account_of(error: BaseException) -> int | None:
    value = getattr(error, "account_id", None)
    return value if isinstance(value, int) else None


class _Tagged:
    """A connector whose errors name the account they came from."""

    def __init__(self, inner: CalendarConnector, account_id: int, provider: str = "") -> None:
        self._inner = inner
        self._account_id = account_id
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = value(*args, **kwargs)
            except ConnectorError as error:
                _tag(error, self._account_id)
                metrics.PROVIDER_CALLS.labels(self._provider, type(error).__name__).inc()
                raise
            metrics.PROVIDER_CALLS.labels(self._provider, "ok").inc()
            if isinstance(result, list):  # per-item answers (create_blocks) name it too
                for item in result:
                    if isinstance(item, ConnectorError):
                        _tag(item, self._account_id)
            return result

        return call


def _tag(error: ConnectorError, account_id: int) -> None:
    if account_of(error) is None:
        error.account_id = account_id  # type: ignore[attr-defined]


def tagged(provider: ConnectorFor) -> ConnectorFor:
    """Wrap a connector provider so every error names its account."""

    def provide(account: Account) -> CalendarConnector:
        try:
            inner = provider(account)
        except ConnectorError as error:
            _tag(error, account.id)
            raise
        return cast(CalendarConnector, _Tagged(inner, account.id, account.provider))

    return provide


def retry_after(error: BaseException) -> int:
    """Whole seconds to wait before trying again (the provider's hint when it gave one)."""
    hint = error.retry_after if isinstance(error, RateLimited) else None
    return max(1, math.ceil(hint)) if hint is not None else DEFAULT_RETRY_SECONDS


@dataclass(frozen=True)
class ProviderProblem:
    """What a provider failure means for the person: HTTP status, sentence, account state."""

    status: int
    message: str
    account: dict[str, Any] | None
    retry_after: int | None


def describe_failure(session: Session, error: ConnectorError) -> ProviderProblem:
    """Map a connector failure to an answer; a revoked grant is recorded on the account."""
    account = None
    account_id = account_of(error)
    if account_id is not None:
        account = session.get(Account, account_id)
    name = account.display_name if account is not None else "your calendar account"
    if isinstance(error, ReauthRequired):
        if account is not None:
            mark_needs_reauth(session, account, str(error))
        status, wait = 409, None
        message = f"GrowthGuard lost access to {name}; reconnect it on the Accounts page."
    elif isinstance(error, RateLimited):
        status, wait = 503, retry_after(error)
        message = f"{name} is throttling requests; try again in {wait} s."
    elif isinstance(error, TransientError):
        status, wait = 503, retry_after(error)
        message = f"{name} is not answering right now; try again in {wait} s."
    elif isinstance(error, PermissionDenied):
        status, wait = 403, None
        message = f"{name} refused: {error}"
    elif isinstance(error, NotFound):
        status, wait = 404, None
        message = f"{name} no longer has it: {error}"
    else:
        status, wait = 502, None
        message = f"{name} refused the request: {error}"
    summary = None
    if account is not None:
        summary = {
            "id": account.id,
            "name": account.display_name,
            "provider": account.provider,
            "status": str(account.status),
            "status_detail": account.status_detail,
        }
    return ProviderProblem(status, message, summary, wait)


def account_ok(account: Account) -> bool:
    return account.status == AccountStatus.OK
