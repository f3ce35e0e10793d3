"""Signing up the way a person does: ask, read the mail in the dev mailbox, confirm."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

LINK = re.compile(r"https?://\S+/signup/confirm\?t=\S+")


def confirmation_link(client: Any, email: str) -> str:
    """The newest sign-up link mailed to `email` (from /dev/mailbox.json)."""
    mails = client.get("/dev/mailbox.json").json()
    for mail in mails:
        found = LINK.search(mail["text"])
        if mail["to"] == email.lower() and found:
            return found.group(0)
    raise AssertionError(f"no confirmation link was mailed to {email}: {mails}")


def link_token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["t"][0]


def api_sign_up(client: Any, email: str, timezone: str = "UTC", **fields: Any) -> dict[str, Any]:
    """POST /users, then POST /users/confirm with the mailed token; the created user + token."""
    asked = client.post("/users", json={"email": email, "timezone": timezone, **fields})
    assert asked.status_code == 202, asked.text
    token = link_token(confirmation_link(client, email))
    confirmed = client.post("/users/confirm", json={"token": token})
    assert confirmed.status_code == 201, confirmed.text
    body: dict[str, Any] = confirmed.json()
    return body


def api_token(client: Any, email: str, timezone: str = "UTC", **fields: Any) -> str:
    return str(api_sign_up(client, email, timezone, **fields)["api_token"])


def front_door_csrf(client: Any) -> str:
    page = client.get("/")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def browser_sign_up(
    client: Any, email: str, password: str = "correct horse battery", timezone: str = "UTC"
) -> Any:
    """The sign-up form, then the mailed link's confirmation page: the browser is signed in."""
    asked = client.post(
        "/signup",
        data={
            "email": email,
            "password": password,
            "timezone": timezone,
            "csrf_token": front_door_csrf(client),
        },
    )
    assert asked.status_code == 200 and "Check your email" in asked.text, asked.text
    link = urlsplit(confirmation_link(client, email))
    page = client.get(f"{link.path}?{link.query}")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    return client.post(
        "/signup/confirm",
        data={"t": link_token(link.geturl()), "csrf_token": csrf.group(1)},
    )
