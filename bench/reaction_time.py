"""Reaction time: from the provider's change to the decline arriving at the provider.

Runs the real app over HTTP on 127.0.0.1 against the fake Google server, exactly as the
end-to-end tests wire it (tests/e2e/conftest.py), with a temporary SQLite database. Each
conflict is an invite inserted over one of a user's growth blocks; the clock starts right
before the fake stores the invite (and queues its push notification) and stops when the fake
has received the decline (an RSVP "declined" from the owner). Prints one JSON object on
stdout; progress goes to stderr. Not a test: it asserts nothing about timing.

    .venv/bin/python bench/reaction_time.py [--conflicts 240] [--users 4] [--concurrency 1]
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
import math
import os
import platform
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app.db.migrate import upgrade
from app.db.session import make_engine
from app.domain.time import IsoWeek
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from connectors.google.oauth import GoogleConfig
from tests.booking_helpers import book
from tests.e2e.harness import PUBLIC_URL, AppServer, browser, wait_until
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET, FakeGoogle
from tests.fakes.google_store import parse_when
from tests.support.settings import make_settings

NAME = "reaction_time"
ZONE = "Europe/Berlin"
POLICY: dict[str, Any] = {"default": "decline", "guardrails": {"max_declines_per_week": 100}}
MAX_DECLINES_PER_USER = 100  # the policy's guardrail cannot be set higher
TITLES = (
    "Quarterly planning",
    "Roadmap sync",
    "Vendor demo",
    "Budget review",
    "Hiring committee",
    "Architecture forum",
    "Team offsite prep",
    "Incident retro",
)
POLL_INTERVAL = 0.001  # seconds between looks at the fake's RSVPs
SETUP_TIMEOUT = 15.0  # seconds for each setup step (push channel, booked blocks)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class User:
    email: str
    client: httpx.Client
    blocks: list[dict[str, Any]]
    invites: int = 0


@dataclass
class Pending:
    user: User
    invite_id: str
    title: str
    t0: float


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def providers_for(fake: FakeGoogle, redirect_uri: str) -> Providers:
    base = fake.base_url
    return Providers(
        google=GoogleConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=redirect_uri,
            auth_uri=f"{base}/o/oauth2/auth",
            token_uri=f"{base}/token",
            revoke_uri=f"{base}/revoke",
            userinfo_uri=f"{base}/v1/userinfo",
            api_endpoint=f"{base}/calendar/v3/",
        )
    )


def connect_user(
    stack: ExitStack, fake: FakeGoogle, server: AppServer, email: str, week: IsoWeek
) -> User:
    """Connect `email` in its own browser session, set the policy, book a week of blocks."""
    fake.add_account(email, workspace=True, time_zone=ZONE)
    fake.set_consent(email)
    client = stack.enter_context(browser(server.base_url))
    client.get("/auth/google/start", follow_redirects=True)
    wait_until(
        lambda: (
            (accounts := client.get("/accounts").json())
            and accounts[0]["calendars"][0]["push_active"]
        ),
        SETUP_TIMEOUT,
    )
    plan = client.post("/plans", json={"goal": f"Grow ({email})"}).json()
    response = client.put(f"/plans/{plan['id']}/policy", json=POLICY)
    if response.status_code != 200:
        raise RuntimeError(f"policy rejected for {email}: {response.status_code} {response.text}")
    book(client, plan["id"], str(week))
    blocks = sorted(
        (e for e in fake.events(email) if e.get("extendedProperties")),
        key=lambda e: parse_when(e["start"]),
    )
    if not blocks:
        raise RuntimeError(f"no growth blocks were booked for {email} in {week}")
    log(f"connected {email}: {len(blocks)} block(s) in {week}")
    return User(email, client, blocks)


def declined(fake: FakeGoogle, pending: Pending) -> bool:
    return any(
        status == "declined" for status, _ in fake.rsvps(pending.user.email, pending.invite_id)
    )


def insert(fake: FakeGoogle, user: User, number: int) -> Pending:
    block = user.blocks[user.invites % len(user.blocks)]
    title = f"{TITLES[number % len(TITLES)]} #{number}"
    user.invites += 1
    start, end = parse_when(block["start"]), parse_when(block["end"])
    t0 = time.perf_counter()
    invite_id = fake.insert_invite(
        user.email, title, start, end, organizer="lead@corp.example", attendee_count=10
    )
    return Pending(user, invite_id, title, t0)


def what_the_app_says(pending: Pending) -> str:
    """The app's own record of a conflict that was not declined in time (for stderr)."""
    try:
        for conflict in pending.user.client.get("/conflicts").json():
            if pending.title in json.dumps(conflict):
                decision = conflict.get("decision") or {}
                return str(decision.get("explanation") or decision or "no decision yet")
    except (httpx.HTTPError, ValueError) as error:
        return f"could not ask the app: {error}"
    return "the app has no conflict for it"


def measure(
    fake: FakeGoogle, users: list[User], conflicts: int, concurrency: int, timeout: float
) -> tuple[list[float], list[dict[str, Any]]]:
    """Insert `conflicts` invites, `concurrency` at a time; reaction times and failures."""
    reactions: list[float] = []
    failures: list[dict[str, Any]] = []
    number = 0
    while number < conflicts:
        batch: list[Pending] = []
        for _ in range(min(concurrency, conflicts - number)):
            batch.append(insert(fake, users[number % len(users)], number))
            number += 1
        deadline = max(p.t0 for p in batch) + timeout
        while batch:
            now = time.perf_counter()
            for pending in list(batch):
                if declined(fake, pending):
                    reactions.append(time.perf_counter() - pending.t0)
                    batch.remove(pending)
                elif now > deadline:
                    reason = what_the_app_says(pending)
                    failures.append(
                        {"user": pending.user.email, "invite": pending.title, "app": reason}
                    )
                    log(f"NOT declined within {timeout} s: {pending.title}: {reason}")
                    batch.remove(pending)
            if batch:
                time.sleep(POLL_INTERVAL)
        if number % 20 == 0 or number == conflicts:
            log(f"{number}/{conflicts} conflicts, {len(failures)} not declined")
    return reactions, failures


def report(
    args: argparse.Namespace, reactions: list[float], failures: list[dict[str, Any]]
) -> dict[str, Any]:
    ms = sorted(r * 1000 for r in reactions)

    def fig(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 3)

    return {
        "name": NAME,
        "description": "provider notification (invite stored at the fake) -> decline "
        "received by the fake, one conflict at a time unless concurrency > 1",
        "units": "ms",
        "conflicts": args.conflicts,
        "users": args.users,
        "concurrency": args.concurrency,
        "timeout_s": args.timeout,
        "n": len(ms),
        "not_declined": len(failures),
        "p50": fig(percentile(ms, 50)),
        "p99": fig(percentile(ms, 99)),
        "min": fig(ms[0]) if ms else None,
        "max": fig(ms[-1]) if ms else None,
        "mean": fig(statistics.fmean(ms)) if ms else None,
        "not_declined_examples": failures[:5],
        "database": "sqlite (temporary file)",
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conflicts", type=int, default=240, help="invites to insert (240)")
    parser.add_argument("--users", type=int, default=4, help="fake Google accounts (4)")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="invites inserted at once (1: sequential)"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each decline (10)"
    )
    args = parser.parse_args()
    if args.conflicts < 1 or args.users < 1 or args.concurrency < 1 or args.timeout <= 0:
        parser.error("--conflicts, --users, --concurrency and --timeout must be positive")
    per_user = math.ceil(args.conflicts / args.users)
    if per_user > MAX_DECLINES_PER_USER:
        parser.error(
            f"{per_user} conflicts per user exceed the weekly decline limit of "
            f"{MAX_DECLINES_PER_USER}; use more --users"
        )
    return args


def main() -> int:
    args = parse_args()
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
                week = IsoWeek.containing(datetime.now(UTC), ZoneInfo(ZONE)).plus(2)
                users = [
                    connect_user(stack, fake, server, f"user{i}@corp.example", week)
                    for i in range(args.users)
                ]
                log(f"measuring {args.conflicts} conflicts, concurrency {args.concurrency}")
                reactions, failures = measure(
                    fake, users, args.conflicts, args.concurrency, args.timeout
                )
        finally:
            engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report(args, reactions, failures), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
