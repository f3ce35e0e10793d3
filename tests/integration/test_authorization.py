"""Authorization across the whole HTTP API: one user never sees or changes another's data.

The routes are discovered from the app itself (the OpenAPI schema plus the routes hidden from
it), so a new route is checked without anybody remembering to add it here:

- every route that takes an object id, called by B with A's ids, is a 404 (the same answer as
  for an id that does not exist) and leaves A's data exactly as it was;
- every route without a path id answers with the caller's own objects only;
- every route outside the explicit PUBLIC list is a 401 without valid credentials.

A route this module does not know how to call (a new id parameter, a request body, a new list)
fails with a message saying what to add, rather than being skipped.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app import runtime as runtime_module
from app import tasks
from app.config import Environment
from app.db.growth_models import EventMark, LogEntry
from app.db.models import (
    Account,
    ApiToken,
    Block,
    Calendar,
    Conflict,
    Notification,
    NotificationChannel,
    Plan,
    Policy,
    User,
)
from app.db.session import transaction
from app.deps import SESSION_COOKIE
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.security import hmac_hex
from app.services.accounts.rows import add_account
from app.services.notifications.delivery import TEST_MESSAGE, Senders
from app.services.people import websessions
from connectors.base import Event, SelfResponse
from connectors.memory_store import MemoryStore
from tests.booking_helpers import wait_for_run
from tests.signups import api_sign_up
from tests.support.databases import empty_tables
from tests.support.settings import make_settings
from tests.support.snapshot import Rows, copy_store
from tests.support.world import FakeClock, MemoryWorld

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = "2027-W02"
MISSING_ID = 987_654_321

# --- the routes ---------------------------------------------------------------------------

Route = tuple[str, str]  # (METHOD, path template)

# The only routes that answer without credentials, each with the reason it is safe.
PUBLIC: dict[Route, str] = {
    ("GET", "/healthz"): "liveness probe, no data",
    ("GET", "/metrics"): "operator metrics: GG_METRICS_TOKEN or a loopback client, else 403; "
    "counts only, nobody's data",
    ("GET", "/readyz"): "readiness probe, no data",
    ("GET", "/openapi.json"): "the API schema",
    ("GET", "/docs"): "Swagger UI (its files come from this server)",
    ("GET", "/favicon.ico"): "the site icon",
    ("POST", "/users"): "sign-up request: mails a confirmation link, the same answer for all",
    ("POST", "/users/confirm"): "sign-up confirmation: the mailed, encrypted token is the key",
    ("GET", "/signup/confirm"): "sign-up link: a confirmation page, changes nothing",
    ("POST", "/signup/confirm"): "sign-up confirmation form: the mailed token is the key",
    ("GET", "/dev/mailbox"): "development only (404 otherwise): mail this process sent",
    ("GET", "/dev/mailbox.json"): "development only (404 otherwise): the same as JSON",
    ("POST", "/conflicts/{conflict_id}/choose"): "one-click confirmation: the signed token",
    ("GET", "/policies/presets"): "the built-in presets, the same for everybody",
    ("GET", "/auth/{provider}/start"): "OAuth start (state bound to the browser)",
    ("GET", "/auth/{provider}/callback"): "OAuth callback (state + PKCE verified)",
    ("POST", "/auth/sign-out"): "ends the browser session of its own cookie",
    ("POST", "/webhooks/{provider}"): "provider push, verified by channel id + secret",
    ("POST", "/webhooks/{provider}/lifecycle"): "provider lifecycle push, verified likewise",
    ("GET", "/conflicts/{conflict_id}/choose"): "signed one-click link: confirmation page only",
    ("GET", "/"): "home page: shows the signed-in user's accounts, or only connect buttons",
    ("POST", "/signin"): "the front door: email + password sign-in form",
    ("POST", "/signup"): "the front door: sign-up form",
    ("GET", "/growth/blocks/{block_id}/log"): "signed log link: a one-field page, changes nothing",
    ("POST", "/growth/blocks/{block_id}/log"): "signed single-use log link: the token is the key",
}

DEV_ONLY = {("GET", "/dev/mailbox"), ("GET", "/dev/mailbox.json")}


def _production_twin(runtime: Runtime) -> Runtime:
    settings = runtime.settings.model_copy(update={"env": Environment.PRODUCTION})
    return dataclasses.replace(runtime, settings=settings, mailbox=None)


# Path parameters naming one of the caller's objects -> the key in Party.ids.
ID_PARAMS = {
    "plan_id": "plan",
    "calendar_id": "calendar",
    "account_id": "account",
    "policy_id": "policy",
    "conflict_id": "conflict",
    "channel_id": "channel",
    "token_id": "token",
    "run_id": "run",
    "milestone_id": "milestone",
    "entry_id": "entry",
    "block_id": "block",
}
# Path parameters that are not object ids, with a valid value.
OTHER_PARAMS = {
    "name": "strict",
    "provider": "google",
    "quarter": "2027-Q1",
    "event_id": "evt-growth",
    "week": WEEK,
    "day": "2027-03-15",
}

# Realistic bodies for every route that takes one (a 404 must not hide behind a 422).
BODIES: dict[Route, Any] = {
    ("POST", "/accounts/connect/{provider}"): {
        "fields": {"server": "http://127.0.0.1:9/", "username": "bob", "password": "bob-secret"}
    },
    ("POST", "/users"): {"email": "carol@carol.example", "timezone": "Europe/Berlin"},
    ("POST", "/users/confirm"): {"token": "gAAAAABforged"},
    ("POST", "/plans"): {"goal": "bob second goal"},
    ("PUT", "/plans/{plan_id}"): {"goal": "stolen by bob", "weekly_target_minutes": 120},
    ("PATCH", "/plans/{plan_id}"): {"active": False},
    ("PUT", "/plans/{plan_id}/policy"): {"default": "flag"},
    ("PATCH", "/calendars/{calendar_id}"): {"is_busy_source": False, "is_target": False},
    ("POST", "/policies/{policy_id}/explain"): {
        "title": "Q3 sync",
        "start": "2027-01-20T10:00:00+01:00",
        "end": "2027-01-20T11:00:00+01:00",
        "organizer_email": "pm@corp.example",
        "attendee_count": 12,
    },
    ("POST", "/notification-channels"): {"kind": "email", "target": "bob-2@bob.example"},
    ("POST", "/plans/{plan_id}/milestones"): {
        "milestones": [{"title": "bob checkpoint", "due": "2027-03-01"}]
    },
    ("PUT", "/milestones/{milestone_id}"): {"title": "stolen by bob", "due": "2027-03-02"},
    ("POST", "/growth/log"): {"text": "bob read a chapter", "outcome": "notes"},
    ("PUT", "/growth/log/{entry_id}"): {"text": "stolen by bob"},
    ("PUT", "/growth/rules"): {"keyword": "#bob", "organizers": ["mentor@bob.example"]},
    ("PUT", "/calendars/{calendar_id}/events/{event_id}/growth"): {"growth": True},
    ("PUT", "/reviews/{quarter}/answers"): {"worked": "bob mornings"},
    ("POST", "/plans/{plan_id}/blocks/{block_id}/pin"): {},
    ("PUT", "/plans/{plan_id}/weeks/{week}/slots"): {
        "slots": [{"start": "2027-01-13T14:00:00+01:00", "end": "2027-01-13T15:00:00+01:00"}]
    },
    ("PUT", "/users/me/holiday-region"): {"country": "DE", "subdivision": "BY"},
    ("POST", "/users/me/leave"): {"day": "2027-03-15", "note": "bob off"},
    ("PUT", "/quiet"): {"enabled": False},
}
# Form fields of the browser pages' POSTs (the CSRF token is added by `call`). The plan and
# boundary forms act on "the current plan", which a `plan_id` query parameter can select.
FORMS: dict[Route, dict[str, str]] = {
    ("POST", "/signin"): {"email": "alice@alice.example", "password": "wrong password"},
    ("POST", "/signup"): {
        "email": "carol@carol.example",
        "password": "a long enough passphrase",
        "timezone": "Europe/Berlin",
    },
    ("POST", "/dashboard/channels"): {"kind": "email", "target": "bob-3@bob.example"},
    ("POST", "/dashboard/tokens"): {"name": "bob script"},
    ("POST", "/dashboard/plan"): {
        "goal": "stolen by bob",
        "weekly_target_minutes": "120",
        "block_min": "60",
        "block_max": "60",
        "windows": "09:00-17:00",
        **{f"day_{day}": "on" for day in ("mon", "tue", "wed", "thu", "fri")},
    },
    ("POST", "/dashboard/boundary"): {"action": "preset", "preset": "strict"},
    ("POST", "/dashboard/conflicts/{conflict_id}/keep"): {"week": WEEK},
    ("POST", "/dashboard/milestones"): {"title": "bob checkpoint", "due": "2027-03-01"},
    ("POST", "/dashboard/milestones/{milestone_id}"): {"title": "stolen", "due": "2027-03-02"},
    ("POST", "/dashboard/growth-log/{entry_id}"): {"text": "stolen by bob"},
    ("POST", "/dashboard/growth-rules"): {"keyword": "#bob", "organizers": "mentor@bob.example"},
    ("POST", "/dashboard/calendars/{calendar_id}/growth-mark"): {
        "event_id": "evt-growth",
        "growth": "yes",
    },
    ("POST", "/dashboard/review/answers"): {"quarter": "2027-Q1", "worked": "bob mornings"},
    ("POST", "/dashboard/review/goal"): {"goal": "bob adjusted", "goal_by": "2027-06-30"},
    ("POST", "/dashboard/blocks/{block_id}/pin"): {"week": WEEK},
    ("POST", "/dashboard/week/slots"): {"week": WEEK, "slots": "2027-01-13 14:00-15:00"},
    ("POST", "/dashboard/days-off/region"): {"country": "DE", "subdivision": "BY"},
    ("POST", "/dashboard/days-off/leave"): {"day": "2027-03-15", "note": "bob off"},
    ("POST", "/dashboard/days-off/leave/remove"): {"day": "2027-03-15"},
    ("POST", "/dashboard/quiet/mode"): {"enabled": "off"},
}
# Forms whose honest answer in this setup is a refusal (nothing to connect to): status expected.
REFUSED_FORMS: dict[Route, int] = {
    ("POST", "/dashboard/accounts/connect/{provider}"): 422,  # no such provider offered
    ("POST", "/dashboard/demo/connect"): 422,  # the demo calendar is off in tests
    ("POST", "/dashboard/demo/invite"): 422,  # no demo calendar connected
    ("POST", "/accounts/connect/{provider}"): 422,  # nothing to connect to
    ("POST", "/dashboard/quiet/connect"): 409,  # Slack is not configured in this setup
    ("PUT", "/quiet"): 404,  # bob has no Slack connection (alice's is not his)
    ("DELETE", "/quiet/slack"): 404,  # likewise
    ("POST", "/dashboard/quiet/mode"): 404,
    ("POST", "/dashboard/quiet/disconnect"): 404,
    ("GET", "/dashboard/quiet/callback"): 400,  # no Slack connect was started: no state
}
PLAN_QUERY_PAGES = {"/dashboard/plan", "/dashboard/boundary", "/dashboard/week"}

# Query strings that make a call do real work (and so change data if it leaked).
QUERIES: dict[Route, dict[str, str]] = {
    ("GET", "/plans/{plan_id}/preview"): {"week": "2027-W03"},
    ("POST", "/plans/{plan_id}/book"): {"week": "2027-W03"},
    ("GET", "/calendars/{calendar_id}/events"): {
        "start": "2027-01-04T00:00:00+00:00",
        "end": "2027-01-25T00:00:00+00:00",
    },
}


def _discover(app: FastAPI) -> tuple[set[Route], dict[Route, dict[str, Any]]]:
    """Every (method, path) the app answers, and the OpenAPI operation of the documented ones."""
    operations: dict[Route, dict[str, Any]] = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                operations[(method.upper(), path)] = operation
    try:  # FastAPI >= 0.16x wraps included routers; this walks into them
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI lists the routes flat
        routes = app.routes
    found = set(operations)
    for route in routes:
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found, operations


ROUTES, OPERATIONS = _discover(create_app())


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::\w+)?}", path)


def id_params(route: Route) -> list[str]:
    """The object-id parameters of a route: path ids plus `*_id` query parameters."""
    names = [p for p in path_params(route[1]) if p not in OTHER_PARAMS]
    for parameter in OPERATIONS.get(route, {}).get("parameters", []):
        if parameter["in"] == "query" and parameter["name"].endswith("_id"):
            names.append(parameter["name"])
    return names


def _label(route: Route) -> str:
    return f"{route[0]} {route[1]}"


PRIVATE = sorted(r for r in ROUTES if r not in PUBLIC)
# The JSON API: the documented routes. Browser pages (hidden from the schema) only get the
# credentials check, since they answer with HTML and redirects.
API = [r for r in PRIVATE if r in OPERATIONS]
PAGES = [r for r in PRIVATE if r not in OPERATIONS]


def _has_path_ids(route: Route) -> bool:
    return bool(set(path_params(route[1])) - set(OTHER_PARAMS))


WITH_PATH_IDS = sorted(r for r in API if _has_path_ids(r))
WITHOUT_PATH_IDS = sorted(r for r in API if not _has_path_ids(r))
PAGES_WITH_PATH_IDS = sorted(r for r in PAGES if _has_path_ids(r))
PAGES_WITHOUT_PATH_IDS = sorted(r for r in PAGES if not _has_path_ids(r))

# --- two users with everything ------------------------------------------------------------


@dataclass
class Party:
    name: str
    user_id: int
    token: str
    cookie: str
    ids: dict[str, int] = field(default_factory=dict)
    keep_url: str = ""

    @property
    def email(self) -> str:
        return f"{self.name}@{self.name}.example"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Sent:
    emails: list[tuple[str, str, str]] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)


@dataclass
class Setup:
    app: FastAPI
    client: TestClient  # no credentials of its own
    runtime: Runtime
    world: MemoryWorld
    sent: Sent
    a: Party
    b: Party

    def as_(self, party: Party, auth: str = "token") -> TestClient:
        """A client authenticated as `party` by API token or by browser session cookie."""
        if auth == "token":
            client = TestClient(self.app, headers=party.headers)
        else:
            client = TestClient(self.app, cookies={SESSION_COOKIE: party.cookie})
        return client


def berlin(day: int, hour: int) -> datetime:
    return datetime(2027, 1, day, hour, tzinfo=BERLIN)


def _party(client: TestClient, runtime: Runtime, world: MemoryWorld, name: str) -> Party:
    email = f"{name}@{name}.example"
    created = api_sign_up(client, email, "Europe/Berlin")
    with transaction(runtime.sessions) as session:
        user = session.get_one(User, created["id"])
        account = add_account(session, user, "memory", email, world.store(email).calendars())
        calendar_id = session.scalars(
            select(Calendar.id).where(Calendar.account_id == account.id)
        ).one()
        cookie = websessions.sign_in(session, user.id, runtime.clock())
        party = Party(name, user.id, created["api_token"], cookie)
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id)).one()
        party.ids.update(account=account.id, calendar=calendar_id, token=token_id)
    auth = party.headers

    plan = client.post(
        "/plans", json={"goal": f"{name} growth", "goal_by": "2027-06-30"}, headers=auth
    )
    assert plan.status_code == 201, plan.text
    party.ids["plan"] = plan.json()["id"]
    rule = {
        "name": f"{name} rule",
        "when": {"attendees_at_least": 8},
        "then": "decline_after",
        "grace_hours": 2,
    }
    policy = client.put(f"/plans/{party.ids['plan']}/policy", json={"rules": [rule]}, headers=auth)
    assert policy.status_code == 200, policy.text
    party.ids["policy"] = policy.json()["id"]
    queued = client.post(f"/plans/{party.ids['plan']}/book", params={"week": WEEK}, headers=auth)
    assert queued.status_code == 202, queued.text
    run = wait_for_run(client, queued.json()["status_url"], auth)
    assert run["state"] == "done" and run["reports"][0]["created"], run
    party.ids["run"] = run["id"]
    channel = client.post(
        "/notification-channels",
        json={"kind": "email", "target": f"{name}-alerts@{name}.example"},
        headers=auth,
    )
    assert channel.status_code == 201, channel.text
    party.ids["channel"] = channel.json()["id"]
    milestones = client.post(
        f"/plans/{party.ids['plan']}/milestones",
        json={"milestones": [{"title": f"{name} checkpoint", "due": "2027-03-01"}]},
        headers=auth,
    )
    assert milestones.status_code == 201, milestones.text
    party.ids["milestone"] = milestones.json()[0]["id"]
    party.ids["block"] = client.get("/blocks", headers=auth).json()[0]["id"]
    entry = client.post(
        "/growth/log",
        json={"block_id": party.ids["block"], "text": f"{name} drafted the outline"},
        headers=auth,
    )
    assert entry.status_code == 201, entry.text
    party.ids["entry"] = entry.json()["id"]
    leave = client.post(
        "/users/me/leave", json={"day": "2027-03-15", "note": f"{name} leave"}, headers=auth
    )
    assert leave.status_code == 201, leave.text

    store = world.store(email)
    store.put_event(
        Event(
            id=store.new_id(),
            calendar_id="primary",
            title=f"{name} roadmap review",
            start=berlin(11, 9),
            end=berlin(11, 10),
            organizer_email=f"boss@{name}.example",
            self_response=SelfResponse.NEEDS_ACTION,
            attendee_count=12,
        )
    )
    tasks.sync_calendar(calendar_id)
    conflicts = client.get("/conflicts", headers=auth).json()
    assert len(conflicts) == 1 and conflicts[0]["decision"]["outcome"] == "pending", conflicts
    party.ids["conflict"] = conflicts[0]["id"]
    links = [
        n["payload"]["keep_url"]
        for n in client.get("/notifications", headers=auth).json()
        if "keep_url" in n["payload"]
    ]
    assert links, "the conflict should have been announced with one-click links"
    party.keep_url = links[0]
    return party


@dataclass(frozen=True)
class Built:
    """Alice and Bob with everything, built once per module and backend (see `setup`)."""

    rows: Rows
    stores: dict[str, MemoryStore]
    a: Party
    b: Party


def _recording_senders(sent: Sent) -> Senders:
    return Senders(
        email=lambda to, subject, text: sent.emails.append((to, subject, text)),
        post_json=lambda url, body, headers: sent.posts.append(url),
    )


@pytest.fixture(scope="module")
def built(db_url: str, _session_engine: Engine) -> Built:
    """Build the two users through the API once, keep their rows and calendars, empty the db."""
    clock = FakeClock(berlin(10, 18))
    world = MemoryWorld()
    runtime = build_runtime(
        make_settings(db_url), connectors=world.provider(), clock=clock, engine=_session_engine
    )
    runtime.senders = _recording_senders(Sent())
    runtime_module.install(runtime)
    try:
        with TestClient(create_app(runtime, scheduler=False)) as client:
            a = _party(client, runtime, world, "alice")
            b = _party(client, runtime, world, "bob")
        rows = Rows.read(_session_engine)
        stores = {email: copy_store(store) for email, store in world.stores.items()}
    finally:
        runtime_module.install(None)
        empty_tables(_session_engine)
    return Built(rows, stores, a, b)


@pytest.fixture
def setup(
    built: Built, runtime: Runtime, world: MemoryWorld, clock: FakeClock, engine: Engine
) -> Iterator[Setup]:
    """A fresh app and runtime over the module's two users, restored row for row."""
    built.rows.write(engine)
    world.stores.update({email: copy_store(store) for email, store in built.stores.items()})
    clock.now = berlin(10, 18)
    sent = Sent()
    runtime.senders = _recording_senders(sent)
    a, b = copy.deepcopy(built.a), copy.deepcopy(built.b)
    app = create_app(runtime, scheduler=False)
    with TestClient(app) as client:
        yield Setup(app, client, runtime, world, sent, a, b)


def test_the_restored_state_is_the_built_one(setup: Setup, built: Built):
    """The snapshot round trip keeps every row (a lost table would weaken every test here)."""
    assert built.rows.count() > 20
    restored = Rows.read(setup.runtime.engine).by_table()
    for table, rows in built.rows.by_table().items():
        assert restored[table] == rows, f"table {table} was not restored"
    assert snapshot(setup, setup.a)["conflicts"][0]["id"] == setup.a.ids["conflict"]


# --- helpers ------------------------------------------------------------------------------


def url_for(route: Route, ids: dict[str, int]) -> str:
    path = route[1]
    for name in path_params(path):
        if name in OTHER_PARAMS:
            value: object = OTHER_PARAMS[name]
        elif name in ID_PARAMS:
            value = ids[ID_PARAMS[name]]
        else:
            pytest.fail(
                f"{_label(route)}: unknown path parameter {name!r}; add it to ID_PARAMS "
                "(an object id) or OTHER_PARAMS (anything else)"
            )
        path = path.replace(f"{{{name}}}", str(value))
    return path


def query_for(route: Route, ids: dict[str, int]) -> dict[str, Any]:
    query: dict[str, Any] = dict(QUERIES.get(route, {}))
    if route[1] in PLAN_QUERY_PAGES:
        query["plan_id"] = ids["plan"]
    for name in id_params(route):
        if name not in path_params(route[1]):
            if name not in ID_PARAMS:
                pytest.fail(f"{_label(route)}: unknown id query parameter {name!r}")
            query[name] = ids[ID_PARAMS[name]]
    return query


def body_for(route: Route) -> Any:
    if route in BODIES:
        return BODIES[route]
    if "requestBody" in OPERATIONS.get(route, {}):
        pytest.fail(f"{_label(route)} takes a request body: add a realistic one to BODIES")
    return None


def call(client: TestClient, route: Route, ids: dict[str, int]) -> Response:
    body: dict[str, Any] = {"json": body_for(route)}
    cookie = client.cookies.get(SESSION_COOKIE)
    secret = client.app.state.runtime.settings.secret_key.get_secret_value()  # type: ignore[attr-defined]
    csrf = hmac_hex(f"csrf:{cookie}", secret) if cookie else ""
    if route not in OPERATIONS and route[0] == "POST":  # a browser form
        body = {"data": {**FORMS.get(route, {}), "csrf_token": csrf}}
    return client.request(
        route[0],
        url_for(route, ids),
        params=query_for(route, ids),
        # a signed-in browser's own page would send its CSRF token on API writes too
        headers={"X-CSRF-Token": csrf} if csrf else {},
        follow_redirects=False,
        **body,
    )


def snapshot(s: Setup, party: Party) -> dict[str, Any]:
    """Everything of `party` that another user's request could change."""
    auth = party.headers
    client = s.client

    def get(url: str) -> Any:
        response = client.get(url, headers=auth)
        assert response.status_code == 200, (url, response.text)
        return response.json()

    store = s.world.store(party.email)
    with s.runtime.sessions() as session:
        tokens = sorted(
            (t.id, t.name)
            for t in session.scalars(select(ApiToken).where(ApiToken.user_id == party.user_id))
        )
        marks = sorted(
            (m.calendar_id, m.provider_event_id, m.growth)
            for m in session.scalars(select(EventMark).where(EventMark.user_id == party.user_id))
        )
    return {
        "api tokens": tokens,
        "me": get("/users/me"),
        "plans": [{k: v for k, v in p.items() if k != "next_booking_at"} for p in get("/plans")],
        "plan policy": get(f"/plans/{party.ids['plan']}/policy"),
        "policies": get("/policies"),
        "accounts": get("/accounts"),
        "events": get(f"/calendars/{party.ids['calendar']}/events"),
        "channels": get("/notification-channels"),
        "conflicts": get("/conflicts"),
        "blocks": get("/blocks"),
        # Delivery runs in the background and may change a status meanwhile.
        "notifications": [
            {k: v for k, v in n.items() if k != "status"} for n in get("/notifications")
        ],
        "provider events": sorted(
            (e.id, e.title, e.start.isoformat(), e.end.isoformat()) for e in store.events("primary")
        ),
        "provider responses": [(r.event_id, r.response.value) for r in store.responses],
        "milestones": get(f"/plans/{party.ids['plan']}/milestones"),
        "growth log": get("/growth/log"),
        "growth rules": get("/growth/rules"),
        "days off": get("/users/me/days-off"),
        "review": get(f"/plans/{party.ids['plan']}/reviews/2027-Q1"),
        "growth marks": marks,
    }


def assert_unchanged(before: dict[str, Any], after: dict[str, Any], route: Route) -> None:
    for key in before:
        assert after[key] == before[key], f"{_label(route)} changed the other user's {key}"


def test_the_route_tables_match_the_app():
    """Stale entries here would silently test nothing."""
    assert set(PUBLIC) <= ROUTES, sorted(set(PUBLIC) - ROUTES)
    assert set(BODIES) <= ROUTES, sorted(set(BODIES) - ROUTES)
    assert set(QUERIES) <= ROUTES, sorted(set(QUERIES) - ROUTES)
    assert set(FORMS) <= ROUTES, sorted(set(FORMS) - ROUTES)
    assert len(WITH_PATH_IDS) >= 15 and len(WITHOUT_PATH_IDS) >= 8  # discovery works


# --- another user's ids -------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["token", "cookie"])
@pytest.mark.parametrize("route", WITH_PATH_IDS, ids=_label)
def test_another_users_ids_are_not_found_and_change_nothing(setup: Setup, route: Route, auth: str):
    s = setup
    bob = s.as_(s.b, auth)
    before = snapshot(s, s.a)

    theirs = call(bob, route, s.a.ids)
    missing = call(bob, route, dict.fromkeys(s.a.ids, MISSING_ID))

    assert "alice" not in theirs.text
    assert_unchanged(before, snapshot(s, s.a), route)
    assert theirs.status_code == 404, (theirs.status_code, theirs.text)
    # The same answer as for an id that does not exist: no way to probe for other users' ids.
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())
    assert not [e for e in s.sent.emails if TEST_MESSAGE in e[2]], "a test message was sent"

    # The control: the same request with the caller's own ids works, so the 404 above is
    # about ownership and not about a malformed request.
    own = call(bob, route, s.b.ids)
    assert 200 <= own.status_code < 300, (own.status_code, own.text)


# --- routes without a path id: only the caller's own data ---------------------------------

IdsOf = Callable[[Session, int], set[int]]


def _ids(query: Any) -> IdsOf:
    return lambda session, user_id: set(session.scalars(query(user_id)))


# Each list route -> the ids it must return for a user.
LISTS: dict[str, IdsOf] = {
    "/plans": _ids(lambda u: select(Plan.id).where(Plan.user_id == u)),
    "/blocks": _ids(
        lambda u: select(Block.id).join(Plan, Plan.id == Block.plan_id).where(Plan.user_id == u)
    ),
    "/accounts": _ids(lambda u: select(Account.id).where(Account.user_id == u)),
    "/conflicts": _ids(lambda u: select(Conflict.id).where(Conflict.user_id == u)),
    "/policies": _ids(lambda u: select(Policy.id).where(Policy.user_id == u)),
    "/notification-channels": _ids(
        lambda u: select(NotificationChannel.id).where(NotificationChannel.user_id == u)
    ),
    "/notifications": _ids(lambda u: select(Notification.id).where(Notification.user_id == u)),
    "/growth/log": _ids(lambda u: select(LogEntry.id).where(LogEntry.user_id == u)),
    "/sync-health": _ids(
        lambda u: (
            select(Calendar.id)
            .join(Account, Account.id == Calendar.account_id)
            .where(Account.user_id == u)
        )
    ),
    "/sync-health/next-booking": _ids(
        lambda u: select(Plan.id).where(Plan.user_id == u, Plan.active.is_(True))
    ),
}
# Routes answering with one object: the caller itself.
SINGLE = {"/users/me"}


@pytest.mark.parametrize("auth", ["token", "cookie"])
@pytest.mark.parametrize("route", WITHOUT_PATH_IDS, ids=_label)
def test_routes_without_ids_answer_with_the_callers_own_data(setup: Setup, route: Route, auth: str):
    s = setup
    bob = s.as_(s.b, auth)
    before = snapshot(s, s.a)

    response = call(bob, route, s.a.ids)  # A's ids for any `*_id` query parameter
    filtered = bool(query_for(route, s.a.ids))

    assert "alice" not in response.text, f"{_label(route)} shows the other user's data"
    assert_unchanged(before, snapshot(s, s.a), route)
    if route in REFUSED_FORMS:
        assert response.status_code == REFUSED_FORMS[route], response.text
        return
    if filtered and response.status_code == 404:  # A's id in the query: refused, fine
        own = call(bob, route, s.b.ids)
        assert 200 <= own.status_code < 300, (own.status_code, own.text)
        return
    assert 200 <= response.status_code < 300, (response.status_code, response.text)
    if route[0] != "GET":
        return
    path = route[1]
    if path in SINGLE:
        assert response.json()["id"] == s.b.user_id
        return
    is_list = response.headers["content-type"].startswith("application/json") and isinstance(
        response.json(), list
    )
    if not is_list:  # a report or similar: the marker check above is what applies
        return
    assert path in LISTS, f"new list route {path}: add the ids it must return to LISTS"
    got = {item["id"] for item in response.json()}
    if filtered:  # filtered by A's id: nothing of B's matches either
        assert got == set()
        return
    with s.runtime.sessions() as session:
        mine = LISTS[path](session, s.b.user_id)
        others = LISTS[path](session, s.a.user_id)
    assert mine and others, "both users should have some of these"
    assert got == mine
    if path == "/accounts":
        with s.runtime.sessions() as session:
            calendars = set(
                session.scalars(
                    select(Calendar.id)
                    .join(Account, Account.id == Calendar.account_id)
                    .where(Account.user_id == s.b.user_id)
                )
            )
        assert {c["id"] for a in response.json() for c in a["calendars"]} == calendars


@pytest.mark.parametrize("auth", ["token", "cookie"])
def test_each_list_shows_its_owner_everything(setup: Setup, auth: str):
    """The other half of the list check: A sees A's objects, by A's markers."""
    s = setup
    alice = s.as_(s.a, auth)
    for path in sorted(LISTS):
        response = alice.get(path)
        assert response.status_code == 200, (path, response.text)
        assert "bob" not in response.text, path
        with s.runtime.sessions() as session:
            assert {i["id"] for i in response.json()} == LISTS[path](session, s.a.user_id), path


def test_blocks_filtered_by_another_users_plan_are_empty(setup: Setup):
    s = setup
    bob = s.as_(s.b)
    assert bob.get("/blocks", params={"plan_id": s.a.ids["plan"]}).json() == []
    assert bob.get("/blocks", params={"plan_id": s.b.ids["plan"], "week": WEEK}).json()


# --- without credentials ------------------------------------------------------------------


# Where a browser page without a signed-in user may redirect to.
SIGN_IN_PAGES = {"/", "/signin"}


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({}, id="none"),
        pytest.param({"headers": {"Authorization": "Bearer not-a-token"}}, id="bad-token"),
        pytest.param({"cookies": {SESSION_COOKIE: "not-a-session"}}, id="bad-cookie"),
    ],
)
@pytest.mark.parametrize("route", PRIVATE, ids=_label)
def test_private_routes_need_credentials(setup: Setup, route: Route, credentials: dict[str, Any]):
    """A route missing from PUBLIC must be a 401: a new unauthenticated route fails here."""
    s = setup
    before = snapshot(s, s.a)
    anonymous = TestClient(s.app, **credentials)

    response = call(anonymous, route, s.a.ids)  # real ids: a leak would do real harm

    refused = response.status_code == 401
    if route not in OPERATIONS:  # a browser page may instead send you to the front door
        refused = refused or (
            response.status_code in (302, 303)
            and urlsplit(response.headers["location"]).path in SIGN_IN_PAGES
        )
    assert refused, (
        f"{_label(route)} answered {response.status_code} without credentials; "
        "if it is meant to be public, add it to PUBLIC with the reason"
    )
    if response.status_code == 401:
        assert response.headers.get("www-authenticate") == "Bearer"
    assert "alice" not in response.text
    assert_unchanged(before, snapshot(s, s.a), route)


def test_an_expired_session_cookie_is_refused(setup: Setup, clock: FakeClock):
    s = setup
    clock.now = berlin(10, 18) + websessions.SESSION_TTL
    assert s.as_(s.b, "cookie").get("/plans").status_code == 401
    assert s.as_(s.b).get("/plans").status_code == 200  # the API token does not expire


PUBLIC_CALLS: dict[Route, dict[str, Any]] = {
    ("POST", "/webhooks/{provider}"): {"headers": {"X-Goog-Channel-ID": "nope"}},
    ("POST", "/webhooks/{provider}/lifecycle"): {"json": {"value": []}},
}


@pytest.mark.parametrize("route", sorted(PUBLIC), ids=_label)
def test_public_routes_answer_without_credentials_and_show_nobodys_data(setup: Setup, route: Route):
    s = setup
    before = snapshot(s, s.a)
    anonymous = TestClient(s.app)
    extra = PUBLIC_CALLS.get(route, {})
    if route in DEV_ONLY:
        # Development only: it lists this process's mail, by design. In production it is gone.
        with TestClient(create_app(_production_twin(s.runtime), scheduler=False)) as production:
            assert production.get(route[1]).status_code == 404
        return
    if route[1] == "/conflicts/{conflict_id}/choose":
        forged = {"t": "eyJ1IjoxfQ.forged.signature"}
        if route[0] == "GET":
            response = anonymous.get(url_for(route, s.a.ids), params=forged)
        else:
            response = anonymous.post(url_for(route, s.a.ids), data=forged)
        assert response.status_code == 410  # a forged link is not valid
    else:
        response = anonymous.request(
            route[0],
            url_for(route, s.a.ids),
            json=extra.get("json", body_for(route)),
            headers=extra.get("headers"),
            follow_redirects=False,
        )
    assert response.status_code != 401 and response.status_code < 500, response.text
    assert "alice" not in response.text and "bob" not in response.text
    assert_unchanged(before, snapshot(s, s.a), route)


# --- the browser pages: signed in by cookie, CSRF token included ---------------------------


@pytest.mark.parametrize("route", PAGES_WITH_PATH_IDS, ids=_label)
def test_pages_with_another_users_ids_are_not_found_and_change_nothing(setup: Setup, route: Route):
    s = setup
    bob = s.as_(s.b, "cookie")
    before = snapshot(s, s.a)

    theirs = call(bob, route, s.a.ids)
    missing = call(bob, route, dict.fromkeys(s.a.ids, MISSING_ID))

    assert "alice" not in theirs.text
    assert_unchanged(before, snapshot(s, s.a), route)
    assert theirs.status_code == 404, (theirs.status_code, theirs.text[:500])
    assert missing.status_code == 404
    assert not [e for e in s.sent.emails if TEST_MESSAGE in e[2]], "a test message was sent"

    own = call(bob, route, s.b.ids)  # the control: the form itself is fine
    assert 200 <= own.status_code < 400, (own.status_code, own.text[:500])


@pytest.mark.parametrize("route", PAGES_WITHOUT_PATH_IDS, ids=_label)
def test_pages_without_ids_show_and_change_only_the_callers_data(setup: Setup, route: Route):
    s = setup
    bob = s.as_(s.b, "cookie")
    before = snapshot(s, s.a)

    response = call(bob, route, s.a.ids)  # a `plan_id` query names A's plan where it counts

    if route in REFUSED_FORMS:
        assert response.status_code == REFUSED_FORMS[route], response.text[:500]
        assert_unchanged(before, snapshot(s, s.a), route)
        return
    assert 200 <= response.status_code < 400, (
        response.status_code,
        re.findall(r"<li><strong>.*?</li>", response.text) or response.text[:500],
    )
    assert "alice" not in response.text, f"{_label(route)} shows the other user's data"
    assert_unchanged(before, snapshot(s, s.a), route)


# --- the pages and links that are not JSON ------------------------------------------------


def test_the_home_page_shows_only_the_signed_in_users_accounts(setup: Setup):
    s = setup
    page = s.as_(s.b, "cookie").get("/")
    assert page.status_code == 200
    assert s.b.email in page.text and s.a.email not in page.text
    anonymous = s.client.get("/")
    assert s.a.email not in anonymous.text and s.b.email not in anonymous.text


def test_a_signed_link_works_only_for_its_own_conflict_and_choice(setup: Setup):
    s = setup
    before = snapshot(s, s.a)
    link = urlsplit(s.b.keep_url)
    token = parse_qs(link.query)["t"][0]
    assert link.path == f"/conflicts/{s.b.ids['conflict']}/choose"
    anonymous = TestClient(s.app)

    # B's valid token, pointed at A's conflict.
    stolen = anonymous.post(f"/conflicts/{s.a.ids['conflict']}/choose", data={"t": token})
    assert stolen.status_code == 410
    assert_unchanged(before, snapshot(s, s.a), ("POST", "/conflicts/{conflict_id}/choose"))
    assert s.world.store(s.b.email).responses == []

    # Opening the genuine link only asks; the button acts, without signing in, once.
    assert anonymous.get(link.path, params={"t": token}).status_code == 200
    states = {c["id"]: c["state"] for c in s.as_(s.b).get("/conflicts").json()}
    assert states[s.b.ids["conflict"]] != "overridden"
    assert anonymous.post(link.path, data={"t": token}).status_code == 200
    states = {c["id"]: c["state"] for c in s.as_(s.b).get("/conflicts").json()}
    assert states[s.b.ids["conflict"]] == "overridden"
    assert_unchanged(before, snapshot(s, s.a), ("POST", "/conflicts/{conflict_id}/choose"))


def test_a_new_plan_or_channel_belongs_to_its_creator(setup: Setup):
    s = setup
    before = snapshot(s, s.a)
    bob = s.as_(s.b)
    plan = bob.post("/plans", json={"goal": "bob again"}).json()
    channel = bob.post("/notification-channels", json=BODIES[("POST", "/notification-channels")])
    assert plan["id"] in {p["id"] for p in bob.get("/plans").json()}
    assert channel.json()["id"] in {c["id"] for c in bob.get("/notification-channels").json()}
    assert s.as_(s.a).get(f"/plans/{plan['id']}").status_code == 404
    assert_unchanged(before, snapshot(s, s.a), ("POST", "/plans"))
