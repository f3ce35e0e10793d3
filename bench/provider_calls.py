"""Provider calls per useful action over a scripted week, on the fake Google and Graph servers.

The real app runs over HTTP on 127.0.0.1 against the fake Google server and the fake Microsoft
identity + Graph server (wired as bench/reaction_time.py, bench/provider_outage.py and the
end-to-end tests wire them), with a temporary SQLite database each. One account is connected
(push on) with a plan whose policy declines every conflicting invite; the week's blocks are
booked, then ``--changes`` changes are made at the provider one at a time, each waited for
until the app is quiet again: invites over a block (to decline), invites elsewhere, moves and
cancellations of those meetings. Every calendar API request the fake receives after connecting
is counted by kind; the parts of a batch request count as calls (providers meter them so)
under their own kind with " (batched)", and ``http_requests`` counts a batch once. Useful
actions are the changes pushed plus the blocks written; the decisions the app must still make
(every conflicting invite declined once, nothing else declined) are checked and reported.
Prints one JSON object on stdout.

    .venv/bin/python bench/provider_calls.py [--changes 20] [--providers google,microsoft]
"""

# sys.path must include the repo root before app and tests are imported.
# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse
import json
import os
import platform
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from app.db.migrate import upgrade
from app.db.session import make_engine
from app.domain.time import IsoWeek
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from app.services.sync.channel_cache import ECHO_DEFER
from bench.reaction_time import POLICY, ZONE, providers_for
from connectors.microsoft.oauth import MicrosoftConfig
from tests.booking_helpers import book
from tests.e2e.harness import PUBLIC_URL, AppServer, browser, wait_until
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET, FakeGoogle, Recorded
from tests.fakes.google_store import parse_when
from tests.fakes.graph_server import CLIENT_ID as GRAPH_CLIENT_ID
from tests.fakes.graph_server import CLIENT_SECRET as GRAPH_CLIENT_SECRET
from tests.fakes.graph_server import FakeGraphServer, RecordedRequest
from tests.support.settings import make_settings

NAME = "provider_calls"
EMAIL = "person@corp.example"
QUIET = 0.6  # seconds without a new provider call: the app has finished reacting


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def kind(request: Recorded) -> str | None:
    """The Calendar API method of a Google request; None for anything else (OAuth, userinfo)."""
    path, method = request.path, request.method
    if path == "/batch/calendar/v3":
        return "batch"
    if not path.startswith("/calendar/v3/"):
        return None
    suffix = " (batched)" if request.batched else ""
    if path.endswith("/calendarList"):
        return "calendarList.list" + suffix
    if path.endswith("/channels/stop"):
        return "channels.stop" + suffix
    if path.endswith("/events/watch"):
        return "events.watch" + suffix
    if path.endswith("/events"):
        if method == "POST":
            return "events.insert" + suffix
        return ("events.list (sync)" if "syncToken" in request.query else "events.list") + suffix
    verbs = {"GET": "events.get", "PATCH": "events.patch", "PUT": "events.update"}
    return verbs.get(method, "events.delete" if method == "DELETE" else f"{method} event") + suffix


_GRAPH_RESPONSES = re.compile(r"/events/[^/]+/(accept|decline|tentativelyAccept)$")


def graph_kind(request: RecordedRequest) -> str | None:
    """The Graph operation of a request (identity-platform calls are not recorded here)."""
    path, method = request.path, request.method
    if path == "/$batch":
        return "batch"
    suffix = " (batched)" if request.batched else ""
    if path.startswith("/subscriptions"):
        verbs = {"POST": "create", "PATCH": "renew", "DELETE": "delete", "GET": "get"}
        name = "subscriptions." + verbs.get(method, method)
    elif path.endswith("/calendarView/delta"):
        name = "calendarView.delta"
    elif path.endswith("/calendarView"):
        name = "calendarView"
    elif _GRAPH_RESPONSES.search(path):
        name = "events.respond"
    elif path.endswith("/events"):
        if method == "POST":
            name = "events.create"
        else:
            name = "events.find" if "$filter" in request.query else "events.list"
    elif "/events/" in path:
        verbs = {"GET": "events.get", "PATCH": "events.update", "DELETE": "events.delete"}
        name = verbs.get(method, f"{method} event")
    elif path.endswith("/calendars"):
        name = "calendars.list"
    elif path == "/me":
        name = "me"
    else:
        name = f"{method} {path}"
    return name + suffix


class ProviderWorld(Protocol):
    """What the scripted week does at one provider's fake, and how its calls are counted."""

    name: str

    def requests(self) -> list[Any]: ...

    def kind(self, request: Any) -> str | None: ...

    def blocks(self) -> list[tuple[datetime, datetime]]: ...

    def invite(self, title: str, start: datetime, end: datetime, organizer: str, n: int) -> str: ...

    def answers(self, event_id: str) -> list[str]: ...

    def move(self, event_id: str, minutes: int) -> None: ...

    def cancel(self, event_id: str) -> None: ...


@dataclass
class GoogleWorld:
    fake: FakeGoogle
    name: str = "google (fake)"

    def requests(self) -> list[Any]:
        return self.fake.requests

    def kind(self, request: Any) -> str | None:
        return kind(request)

    def blocks(self) -> list[tuple[datetime, datetime]]:
        return sorted(
            (parse_when(e["start"]), parse_when(e["end"]))
            for e in self.fake.events(EMAIL)
            if e.get("extendedProperties") and e.get("status") != "cancelled"
        )

    def invite(self, title: str, start: datetime, end: datetime, organizer: str, n: int) -> str:
        return self.fake.insert_invite(
            EMAIL, title, start, end, organizer=organizer, attendee_count=n
        )

    def answers(self, event_id: str) -> list[str]:
        return [status for status, _ in self.fake.rsvps(EMAIL, event_id)]

    def move(self, event_id: str, minutes: int) -> None:
        event = self.fake.event(EMAIL, event_id)
        moved = parse_when(event["start"]) + timedelta(minutes=minutes)
        self.fake.patch_event(
            EMAIL,
            event_id,
            {
                "start": {"dateTime": moved.isoformat()},
                "end": {"dateTime": (moved + timedelta(minutes=30)).isoformat()},
            },
        )

    def cancel(self, event_id: str) -> None:
        self.fake.delete_event(EMAIL, event_id)


@dataclass
class GraphWorld:
    fake: FakeGraphServer
    name: str = "microsoft (fake Graph)"

    def requests(self) -> list[Any]:
        return self.fake.requests

    def kind(self, request: Any) -> str | None:
        return graph_kind(request)

    def _calendar(self) -> str:
        return self.fake.calendar_id(EMAIL)

    def blocks(self) -> list[tuple[datetime, datetime]]:
        return sorted(
            (e.start, e.end)
            for e in self.fake.events(EMAIL, self._calendar())
            if e.ext and not e.is_cancelled and not e.deleted
        )

    def invite(self, title: str, start: datetime, end: datetime, organizer: str, n: int) -> str:
        guests = [f"guest{k}@corp.example" for k in range(max(n - 2, 0))]
        return self.fake.insert_invite(
            EMAIL, self._calendar(), title, start, end, organizer, attendees=guests
        )

    def answers(self, event_id: str) -> list[str]:
        names = {"decline": "declined", "accept": "accepted", "tentativelyAccept": "tentative"}
        return [names.get(r.response, r.response) for r in self.fake.responses(EMAIL, event_id)]

    def move(self, event_id: str, minutes: int) -> None:
        event = next(e for e in self.fake.events(EMAIL) if e.id == event_id)
        start = event.start + timedelta(minutes=minutes)
        self.fake.update_event(EMAIL, event_id, start=start, end=start + timedelta(minutes=30))

    def cancel(self, event_id: str) -> None:
        self.fake.cancel_event(EMAIL, event_id)


def _declined(world: ProviderWorld, event_id: str) -> Callable[[], bool]:
    return lambda: "declined" in world.answers(event_id)


def quiet(world: ProviderWorld, seconds: float = QUIET, timeout: float = 15.0) -> None:
    """Wait until the fake has received no request for ``seconds``."""
    deadline = time.monotonic() + timeout
    count, since = len(world.requests()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now_count = len(world.requests())
        if now_count != count:
            count, since = now_count, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
    raise RuntimeError("the app did not become quiet")


def script(changes: int) -> list[tuple[str, int]]:
    """The week's changes: (what, index), in order."""
    pattern = ["conflict", "elsewhere", "move", "conflict", "elsewhere", "cancel"]
    return [(pattern[n % len(pattern)], n) for n in range(changes)]


def run_google(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = f"sqlite:///{folder}/google.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        with ExitStack() as stack:
            fake = stack.enter_context(
                FakeGoogle(redirect_uris=(f"{PUBLIC_URL}/auth/google/callback",))
            )
            settings = make_settings(
                url,
                public_url=PUBLIC_URL,
                google_client_id=CLIENT_ID,
                google_client_secret=CLIENT_SECRET,
            )
            providers = providers_for(fake, settings.redirect_uri("google"))
            runtime = build_runtime(settings, engine=engine, providers=providers)
            server = stack.enter_context(AppServer(create_app(runtime, scheduler=False)))
            fake.deliver_to(server.base_url)
            fake.add_account(EMAIL, workspace=True, time_zone=ZONE)
            fake.set_consent(EMAIL)
            client = stack.enter_context(browser(server.base_url))
            client.get("/auth/google/start", follow_redirects=True)
            return scripted_week(client, GoogleWorld(fake), args)
    finally:
        engine.dispose()


def run_graph(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = f"sqlite:///{folder}/graph.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        with ExitStack() as stack:
            fake = stack.enter_context(FakeGraphServer())
            fake.identity.register_app(
                GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, f"{PUBLIC_URL}/auth/microsoft/callback"
            )
            fake.add_user(EMAIL, "Calendar")
            settings = make_settings(
                url,
                public_url=PUBLIC_URL,
                microsoft_client_id=GRAPH_CLIENT_ID,
                microsoft_client_secret=GRAPH_CLIENT_SECRET,
                default_timezone=ZONE,
            )
            providers = Providers(
                microsoft=MicrosoftConfig(
                    client_id=GRAPH_CLIENT_ID,
                    client_secret=GRAPH_CLIENT_SECRET,
                    redirect_uri=settings.redirect_uri("microsoft"),
                    msal_http_client=fake.routing_session(),
                    graph_transport=fake.routing_transport(),
                )
            )
            runtime = build_runtime(settings, engine=engine, providers=providers)
            server = stack.enter_context(AppServer(create_app(runtime, scheduler=False)))
            fake.deliver_to(server.base_url)
            login = {"login.microsoftonline.com": fake.base_url}
            client = stack.enter_context(browser(server.base_url, login))
            client.get("/auth/microsoft/start", follow_redirects=True)
            return scripted_week(client, GraphWorld(fake), args)
    finally:
        engine.dispose()


def scripted_week(client: Any, world: ProviderWorld, args: argparse.Namespace) -> dict[str, Any]:
    zone = ZoneInfo(ZONE)
    week = IsoWeek.containing(datetime.now(UTC), zone).plus(2)
    wait_until(
        lambda: (
            (accounts := client.get("/accounts").json())
            and accounts[0]["calendars"][0]["push_active"]
        ),
        15.0,
    )
    plan = client.post("/plans", json={"goal": "Grow"}).json()
    client.put(f"/plans/{plan['id']}/policy", json=POLICY).raise_for_status()
    quiet(world)
    start = len(world.requests())  # from here on every calendar API call counts
    log(f"{world.name}: booking the week")
    book(client, plan["id"], str(week))
    quiet(world)
    blocks = world.blocks()
    conflicts: list[str] = []
    others: list[str] = []
    monday = datetime.combine(week.monday(), datetime.min.time(), tzinfo=zone)
    for what, n in script(args.changes):
        log(f"{world.name}: change {n + 1}/{args.changes}: {what}")
        if what == "conflict":
            begin, end = blocks[len(conflicts) % len(blocks)]
            invite = world.invite(f"Review #{n}", begin, end, "lead@corp.example", 5)
            conflicts.append(invite)
            wait_until(_declined(world, invite), 15.0)
        elif what == "elsewhere":
            begin = monday + timedelta(days=n % 5, hours=16, minutes=15 * (n % 3))
            others.append(
                world.invite(
                    f"Sync #{n}", begin, begin + timedelta(minutes=30), "peer@corp.example", 3
                )
            )
        elif what == "move" and others:
            world.move(others[-1], 15)
        elif what == "cancel" and others:
            world.cancel(others.pop(0))
        quiet(world)
    # syncs deferred as echoes of our own writes run (or are skipped) this much later: count them
    log(f"{world.name}: waiting {ECHO_DEFER + 2:.0f} s for deferred syncs")
    time.sleep(ECHO_DEFER + 2)
    quiet(world)
    kinds = Counter(k for r in world.requests()[start:] if (k := world.kind(r)) is not None)
    calls = sum(v for k, v in kinds.items() if k != "batch")
    http_requests = sum(v for k, v in kinds.items() if not k.endswith(" (batched)"))
    answered = [c for c in conflicts if "declined" in world.answers(c)]
    answered_twice = [c for c in conflicts if len(world.answers(c)) > 1]
    wrongly = [o for o in others if world.answers(o)]
    useful = args.changes + len(blocks)
    return {
        "provider": world.name,
        "changes": args.changes,
        "blocks_written": len(blocks),
        "useful_actions": useful,
        "calls": calls,
        "calls_per_useful_action": round(calls / useful, 3),
        "http_requests": http_requests,
        "http_requests_per_useful_action": round(http_requests / useful, 3),
        "by_kind": dict(sorted(kinds.items())),
        "decisions": {
            "conflicting_invites": len(conflicts),
            "declined": len(answered),
            "declined_more_than_once": len(answered_twice),
            "other_invites_answered": len(wrongly),
        },
    }


RUNS = {"google": run_google, "microsoft": run_graph}


def main(argv: list[str] | None = None) -> int:
    """Run the scripted week at each provider and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--providers", default="google,microsoft")
    args = parser.parse_args(argv)
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the fakes speak plain http
    folder = Path(tempfile.mkdtemp(prefix="gg-bench-"))
    try:
        results = {name: RUNS[name](args, folder) for name in args.providers.split(",")}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = {
        "name": NAME,
        "results": results,
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
