"""Provider calls per useful action over a scripted week, on the fake Google server.

The real app runs over HTTP on 127.0.0.1 against the fake Google server (wired as
bench/reaction_time.py and the end-to-end tests wire it), with a temporary SQLite database. One
account is connected (push on) with a plan whose policy declines every conflicting invite; the
week's blocks are booked, then ``--changes`` changes are made at the provider one at a time,
each waited for until the app is quiet again: invites over a block (to decline), invites
elsewhere, moves and cancellations of those meetings. Every Calendar API request the fake
receives after connecting is counted by kind. Useful actions are the changes pushed plus the
blocks written; the decisions the app must still make (every conflicting invite declined once,
nothing else declined) are checked and reported. Prints one JSON object on stdout.

    .venv/bin/python bench/provider_calls.py [--changes 20]
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
import shutil
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.db.migrate import upgrade
from app.db.session import make_engine
from app.domain.time import IsoWeek
from app.main import create_app
from app.runtime import build_runtime
from app.services.sync.channel_cache import ECHO_DEFER
from bench.reaction_time import POLICY, ZONE, providers_for
from tests.booking_helpers import book
from tests.e2e.harness import PUBLIC_URL, AppServer, browser, wait_until
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET, FakeGoogle, Recorded
from tests.fakes.google_store import parse_when
from tests.support.settings import make_settings

NAME = "provider_calls"
EMAIL = "person@corp.example"
QUIET = 0.6  # seconds without a new provider call: the app has finished reacting


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def kind(request: Recorded) -> str | None:
    """The Calendar API method of a request; None for anything else (OAuth, userinfo)."""
    path, method = request.path, request.method
    if not path.startswith("/calendar/v3/"):
        return None
    if path.endswith("/calendarList"):
        return "calendarList.list"
    if path.endswith("/channels/stop"):
        return "channels.stop"
    if path.endswith("/events/watch"):
        return "events.watch"
    if path.endswith("/events"):
        if method == "POST":
            return "events.insert"
        return "events.list (sync)" if "syncToken" in request.query else "events.list"
    verbs = {"GET": "events.get", "PATCH": "events.patch", "PUT": "events.update"}
    return verbs.get(method, "events.delete" if method == "DELETE" else f"{method} event")


def quiet(fake: FakeGoogle, seconds: float = QUIET, timeout: float = 15.0) -> None:
    """Wait until the fake has received no request for ``seconds``."""
    deadline = time.monotonic() + timeout
    count, since = len(fake.requests), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now_count = len(fake.requests)
        if now_count != count:
            count, since = now_count, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
    raise RuntimeError("the app did not become quiet")


def script(changes: int, blocks: list[dict[str, Any]], week: IsoWeek) -> list[tuple[str, int]]:
    """The week's changes: (what, index), in order."""
    steps: list[tuple[str, int]] = []
    pattern = ["conflict", "elsewhere", "move", "conflict", "elsewhere", "cancel"]
    for n in range(changes):
        steps.append((pattern[n % len(pattern)], n))
    return steps


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the fake speaks plain http
    tmp = Path(tempfile.mkdtemp(prefix="gg-bench-"))
    try:
        url = f"sqlite:///{tmp}/bench.db"
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
                return scripted_week(stack, fake, server, args)
        finally:
            engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scripted_week(
    stack: ExitStack, fake: FakeGoogle, server: AppServer, args: argparse.Namespace
) -> dict[str, Any]:
    zone = ZoneInfo(ZONE)
    week = IsoWeek.containing(datetime.now(UTC), zone).plus(2)
    fake.add_account(EMAIL, workspace=True, time_zone=ZONE)
    fake.set_consent(EMAIL)
    client = stack.enter_context(browser(server.base_url))
    client.get("/auth/google/start", follow_redirects=True)
    wait_until(
        lambda: (
            (accounts := client.get("/accounts").json())
            and accounts[0]["calendars"][0]["push_active"]
        ),
        15.0,
    )
    plan = client.post("/plans", json={"goal": "Grow"}).json()
    client.put(f"/plans/{plan['id']}/policy", json=POLICY).raise_for_status()
    quiet(fake)
    start = len(fake.requests)  # from here on every Calendar API call counts
    log("booking the week")
    book(client, plan["id"], str(week))
    quiet(fake)
    blocks = sorted(
        (e for e in fake.events(EMAIL) if e.get("extendedProperties")),
        key=lambda e: parse_when(e["start"]),
    )
    conflicts: list[str] = []
    others: list[str] = []
    monday = datetime.combine(week.monday(), datetime.min.time(), tzinfo=zone)
    for what, n in script(args.changes, blocks, week):
        log(f"change {n + 1}/{args.changes}: {what}")
        if what == "conflict":
            block = blocks[len(conflicts) % len(blocks)]
            begin, end = parse_when(block["start"]), parse_when(block["end"])
            invite = fake.insert_invite(
                EMAIL, f"Review #{n}", begin, end, organizer="lead@corp.example", attendee_count=5
            )
            conflicts.append(invite)
            wait_until(
                lambda invite=invite: any(s == "declined" for s, _ in fake.rsvps(EMAIL, invite)),
                15.0,
            )
        elif what == "elsewhere":
            begin = monday + timedelta(days=n % 5, hours=16, minutes=15 * (n % 3))
            others.append(
                fake.insert_invite(
                    EMAIL, f"Sync #{n}", begin, begin + timedelta(minutes=30), attendee_count=3
                )
            )
        elif what == "move" and others:
            event = fake.event(EMAIL, others[-1])
            moved = parse_when(event["start"]) + timedelta(minutes=15)
            fake.patch_event(
                EMAIL,
                others[-1],
                {
                    "start": {"dateTime": moved.isoformat()},
                    "end": {"dateTime": (moved + timedelta(minutes=30)).isoformat()},
                },
            )
        elif what == "cancel" and others:
            fake.delete_event(EMAIL, others.pop(0))
        quiet(fake)
    # syncs deferred as echoes of our own writes run (or are skipped) this much later: count them
    log(f"waiting {ECHO_DEFER + 2:.0f} s for deferred syncs")
    time.sleep(ECHO_DEFER + 2)
    quiet(fake)
    calls = Counter(k for r in fake.requests[start:] if (k := kind(r)) is not None)
    total = sum(calls.values())
    declined = [c for c in conflicts if any(s == "declined" for s, _ in fake.rsvps(EMAIL, c))]
    declined_twice = [c for c in conflicts if len(fake.rsvps(EMAIL, c)) > 1]
    wrongly = [o for o in others if fake.rsvps(EMAIL, o)]
    useful = args.changes + len(blocks)
    return {
        "name": NAME,
        "provider": "google (fake)",
        "changes": args.changes,
        "blocks_written": len(blocks),
        "useful_actions": useful,
        "calls": total,
        "calls_per_useful_action": round(total / useful, 3),
        "by_kind": dict(sorted(calls.items())),
        "decisions": {
            "conflicting_invites": len(conflicts),
            "declined": len(declined),
            "declined_more_than_once": len(declined_twice),
            "other_invites_answered": len(wrongly),
        },
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the scripted week and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args(argv)
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
