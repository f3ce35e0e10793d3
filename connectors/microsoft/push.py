"""Microsoft Graph change and lifecycle notifications, and the validation handshake."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from connectors.push import PushMalformed, PushNotice, PushParse, PushRequest, WatchState

__all__ = ["LIFECYCLE_WINDOW_SECONDS", "parse"]

# Identical lifecycle events this close together are redeliveries.
LIFECYCLE_WINDOW_SECONDS = 600


def parse(request: PushRequest) -> PushParse:
    """Notices from a Graph batch (clientState is each one's secret).

    Graph validates a new subscription by sending `validationToken`, which must come back as
    plain text within 10 seconds.
    """
    token = request.query.get("validationToken")
    if token is not None:
        return PushParse(reply=token)
    try:
        body: Any = json.loads(request.body or b"null")
    except (ValueError, RecursionError):  # the app refuses deep nesting first; never a 500
        raise PushMalformed("body is not JSON") from None
    if not isinstance(body, dict):
        raise PushMalformed("body is not an object")
    items = body.get("value")
    if not isinstance(items, list) or not items:
        raise PushMalformed("no notifications in the body")
    notices = []
    for item in items:
        if not isinstance(item, dict):
            raise PushMalformed("malformed notification")
        lifecycle = item.get("lifecycleEvent")
        secret = item.get("clientState")
        notices.append(
            PushNotice(
                channel_id=str(item.get("subscriptionId", "")),
                secret=secret if isinstance(secret, str) else None,
                message_key=_key(item) if lifecycle is None else None,
                # Graph redelivers lifecycle events unchanged: one full resync serves them all.
                repeat_key=None if lifecycle is None else f"lifecycle:{lifecycle}",
                repeat_window_seconds=LIFECYCLE_WINDOW_SECONDS,
                recreate_watch=lifecycle in ("subscriptionRemoved", "reauthorizationRequired"),
                full=lifecycle in ("subscriptionRemoved", "missed"),
                watch=WatchState.GONE
                if lifecycle == "subscriptionRemoved"
                else WatchState.DUE
                if lifecycle == "reauthorizationRequired"
                else None,
            )
        )
    return PushParse(notices=notices, status=202)


def _key(item: dict[str, Any]) -> str:
    data = item.get("resourceData") or {}
    raw = "|".join(
        str(part)
        for part in (
            item.get("changeType"),
            data.get("id") if isinstance(data, dict) else "",
            data.get("@odata.etag") if isinstance(data, dict) else "",
            item.get("resource"),
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()
