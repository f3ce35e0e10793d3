"""Attacks over HTTP: sizes, nesting, headers, CSRF, stale cookies, rate limits, enumeration,
one-click links and requests to internal hosts. Each fails on the code before issue 10."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from app.db.models import User
from app.main import create_app
from app.providers import Providers
from app.runtime import Runtime
from app.services.notifications import egress
from app.services.notifications.delivery import DeliveryError
from app.services.notifications.senders import http_poster
from connectors.google.oauth import GoogleConfig
from connectors.microsoft.oauth import MicrosoftConfig
from tests.fakes.receivers import Receiver
from tests.signups import api_token, browser_sign_up, front_door_csrf

PASSWORD = "correct horse battery"
JSON = {"Content-Type": "application/json"}


def signin_form(client: TestClient, password: str) -> dict[str, str]:
    return {"email": "ana@example.org", "password": password, "csrf_token": front_door_csrf(client)}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, scheduler=False), follow_redirects=False) as test_client:
        yield test_client


def users(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


# --- sizes and nesting ----------------------------------------------------------------------


def test_a_45_mb_body_is_refused_before_it_is_read(client: TestClient, runtime: Runtime):
    body = b'{"email": "a@b.example", "timezone": "UTC", "x": "' + b"a" * (45 << 20) + b'"}'
    reply = client.post("/users", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and "too large" in reply.json()["detail"]
    assert users(runtime) == 0


def test_a_chunked_body_is_cut_off_while_streaming(client: TestClient, runtime: Runtime):
    sent = []

    def chunks() -> Iterator[bytes]:
        yield b'{"email": "a@b.example", "timezone": "UTC", "x": "'
        for _ in range(1000):  # 64 MB if it were all read
            sent.append(1)
            yield b"a" * 65536

    reply = client.post("/users", content=chunks(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert users(runtime) == 0


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ({f"d{i}": ["09:00-17:00"] for i in range(8)}, "working_hours"),
        ({"mon": ["09:00-10:00"] * 9}, "working_hours.mon"),
        ({"mon": ["09:00-17:00" + "0" * 50]}, "working_hours.mon.0"),
    ],
)
def test_field_sizes_are_limited_naming_the_field(client: TestClient, hours: dict, field: str):
    reply = client.post(
        "/users", json={"email": "a@b.example", "timezone": "UTC", "working_hours": hours}
    )
    assert reply.status_code == 422
    locations = [".".join(str(p) for p in e["loc"][1:]) for e in reply.json()["detail"]]
    assert field in locations, locations


@pytest.mark.parametrize("provider", ["microsoft", "google"])
def test_deeply_nested_webhook_json_is_400_not_500(runtime: Runtime, provider: str):
    # Push endpoints exist for the providers configured here (providers are data).
    providers = Providers(
        google=GoogleConfig("id", "secret", runtime.settings.redirect_uri("google")),
        microsoft=MicrosoftConfig("id", "secret", runtime.settings.redirect_uri("microsoft")),
    )
    deep = "[" * 100_000 + "]" * 100_000
    app = create_app(dataclasses.replace(runtime, providers=providers), scheduler=False)
    with TestClient(app) as client:
        reply = client.post(f"/webhooks/{provider}", content=deep, headers=JSON)
    assert reply.status_code == 400 and "nests deeper" in reply.text


def test_a_webhook_body_of_escaped_quotes_is_refused_at_once(runtime: Runtime) -> None:
    # Each quote used to start a scan for the string's end: quadratic (3.5 s of CPU for 32 KB,
    # over an hour for the 1 MiB the endpoint accepts). Linear, this answers in milliseconds.
    providers = Providers(
        microsoft=MicrosoftConfig("id", "secret", runtime.settings.redirect_uri("microsoft"))
    )
    app = create_app(dataclasses.replace(runtime, providers=providers), scheduler=False)
    hostile = '"' + '\\"' * 500_000
    with TestClient(app) as client:
        for body in (hostile, hostile + "\\", "[" + hostile):
            reply = client.post("/webhooks/microsoft", content=body, headers=JSON)
            assert reply.status_code == 400, reply.text


def test_a_webhook_of_a_provider_not_configured_is_404(client: TestClient):
    deep = "[" * 100_000 + "]" * 100_000
    reply = client.post("/webhooks/microsoft", content=deep, headers=JSON)
    assert reply.status_code == 404


# --- headers, CSRF, cookies -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/", "/webhooks/microsoft?validationToken=%3Cb%3E"])
def test_every_response_has_security_headers(client: TestClient, path: str):
    reply = client.post(path) if "webhooks" in path else client.get(path)
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    assert "script-src 'self';" in reply.headers["content-security-policy"]


def test_cookie_session_json_writes_need_the_csrf_header(client: TestClient):
    browser_sign_up(client, "ana@example.org", PASSWORD)
    forged = client.post("/plans", json={"goal": "planted by another site"})
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["detail"]
    token = client.get("/users/me/csrf-token").json()["csrf_token"]
    made = client.post("/plans", json={"goal": "mine"}, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    assert [p["spec"]["goal"] for p in client.get("/plans").json()] == ["mine"]


def test_a_stale_session_cookie_does_not_break_local_sign_in(client: TestClient):
    browser_sign_up(client, "ana@example.org", PASSWORD)
    client.cookies.clear()
    client.cookies.set("gg_session", "left-over-from-an-old-database")
    reply = client.post(
        "/signin",
        data={
            "email": "ana@example.org",
            "password": PASSWORD,
            "csrf_token": front_door_csrf(client),
        },
    )
    assert reply.status_code == 303, reply.text
    assert client.get("/users/me").json()["email"] == "ana@example.org"


# --- rate limits ----------------------------------------------------------------------------


def test_the_sign_in_limiter_engages_per_account(client: TestClient):
    browser_sign_up(client, "ana@example.org", PASSWORD)
    client.cookies.clear()
    codes = []
    for _ in range(7):
        reply = client.post(
            "/signin",
            data={
                "email": "ana@example.org",
                "password": "wrong guess!!",
                "csrf_token": front_door_csrf(client),
            },
        )
        codes.append(reply.status_code)
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    assert int(reply.headers["retry-after"]) > 0
    # Even the right password waits now: the guesser cannot tell when they hit it.
    right = client.post(
        "/signin",
        data={
            "email": "ana@example.org",
            "password": PASSWORD,
            "csrf_token": front_door_csrf(client),
        },
    )
    assert right.status_code == 429


def test_wrong_api_tokens_are_limited_per_address(client: TestClient):
    codes = [
        client.get("/plans", headers={"Authorization": f"Bearer gg_wrong{i}"}).status_code
        for i in range(22)
    ]
    assert codes[:20] == [401] * 20 and codes[20:] == [429, 429]


# --- enumeration ----------------------------------------------------------------------------


def test_sign_up_answers_the_same_whether_or_not_the_email_exists(client: TestClient):
    api_token(client, "taken@example.org")
    new = client.post("/users", json={"email": "fresh@example.org", "timezone": "UTC"})
    taken = client.post("/users", json={"email": "taken@example.org", "timezone": "UTC"})
    assert (
        (new.status_code, new.json())
        == (taken.status_code, taken.json())
        == (
            202,
            {"detail": new.json()["detail"]},
        )
    )
    pages = []
    for email in ("fresh2@example.org", "taken@example.org"):
        page = client.post(
            "/signup",
            data={
                "email": email,
                "password": PASSWORD,
                "timezone": "UTC",
                "csrf_token": front_door_csrf(client),
            },
        )
        pages.append((page.status_code, page.text.replace(email, "EMAIL")))
    assert pages[0] == pages[1]


# --- one-click links ------------------------------------------------------------------------


def choice_token(runtime: Runtime, payload: dict, age: float = 0.0) -> str:
    class Aged(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    serializer = URLSafeTimedSerializer(
        runtime.settings.secret_key.get_secret_value(), salt="growthguard.choice", signer=Aged
    )
    return str(serializer.dumps({**payload, "id": "x" * 32}))


def test_one_click_links_expire_and_a_forged_one_is_refused(client: TestClient, runtime: Runtime):
    expired = choice_token(runtime, {"u": 1, "c": 1, "k": "keep"}, age=9 * 86400)
    page = client.get("/conflicts/1/choose", params={"t": expired})
    assert page.status_code == 410 and "expired" in page.text
    assert client.post("/conflicts/1/choose", data={"t": expired}).status_code == 410
    forged = client.post("/conflicts/1/choose", data={"t": expired[:-3] + "abc"})
    assert forged.status_code == 410 and "not valid" in forged.text


# --- requests to internal hosts --------------------------------------------------------------

INTERNAL = [
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.5/hook",
    "https://[fd00::1]/hook",
    "https://metadata.google.internal/computeMetadata/v1/",
    "http://127.0.0.1:5432/",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.5]/hook",
    "https://0.0.0.0/hook",
    "https://192.168.1.10/hook",
    "https://100.64.0.1/hook",
    "https://[fe80::1]/hook",
    "https://224.0.0.1/hook",
    "https://localhost/hook",
]


@pytest.fixture
def production_like(runtime: Runtime) -> Iterator[TestClient]:
    settings = runtime.settings.model_copy(update={"allow_loopback_targets": False})
    import dataclasses

    strict = dataclasses.replace(runtime, settings=settings)
    with TestClient(create_app(strict, scheduler=False)) as test_client:
        yield test_client


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_when_saved(production_like: TestClient, url: str):
    auth = {"Authorization": f"Bearer {api_token(production_like, 'ana@example.org')}"}
    for kind in ("webhook", "slack"):
        reply = production_like.post(
            "/notification-channels", json={"kind": kind, "target": url}, headers=auth
        )
        assert reply.status_code == 422, reply.text
        assert reply.json()["detail"][0]["loc"] == ["body", "target"]


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "10.0.0.5", "fd00::1", "127.0.0.1", "::ffff:10.1.2.3"]
)
def test_internal_addresses_are_refused_when_sending(address: str):
    post = http_poster(allow_loopback=False, resolve=lambda host, port: [address])
    with pytest.raises(DeliveryError, match="refused"):
        post("https://innocent.example.com/hook", b"{}", {})


def test_the_checked_address_is_pinned_no_second_lookup(receiver: Receiver):
    answers = iter([["127.0.0.1"], ["10.0.0.5"], ["169.254.169.254"]])
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    port = urlsplit(receiver.base_url).port
    reply = egress.post(
        f"http://rebind.example.com:{port}/hook",
        b'{"ok": true}',
        {"Content-Type": "application/json"},
        allow_loopback=True,
        resolve=rebinding,
    )
    assert reply.status_code < 300
    assert lookups == ["rebind.example.com"]  # resolved once; the request used that answer
    assert (
        receiver.requests and receiver.requests[-1].headers["host"] == f"rebind.example.com:{port}"
    )


def test_redirects_are_not_followed():
    def redirecting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})

    reply = egress.post(
        "http://127.0.0.1:9/hook",
        b"{}",
        {},
        allow_loopback=True,
        transport=httpx.MockTransport(redirecting),
    )
    assert reply.status_code == 302


def test_webhook_body_json_helper_refuses_depth():
    from app.jsonbounds import JsonRejectedError, loads

    assert loads(json.dumps({"value": [{"a": "[[[["}]}).encode())["value"][0]["a"] == "[[[["
    with pytest.raises(JsonRejectedError):
        loads(b"[" * 40 + b"]" * 40)


def test_sign_up_link_is_single_use(client: TestClient):
    client.post("/users", json={"email": "once@example.org", "timezone": "UTC"})
    mail = client.get("/dev/mailbox.json").json()[0]["text"]
    token = parse_qs(urlsplit(mail.split()[mail.split().index("hours):") + 1]).query)["t"][0]
    assert client.post("/users/confirm", json={"token": token}).status_code == 201
    again = client.post("/users/confirm", json={"token": token})
    assert again.status_code == 410 and "already used" in again.json()["detail"]
