"""Webhook ingest: our /webhooks/google and /webhooks/microsoft against a bare FastAPI
endpoint, same uvicorn settings.

For each database (a temporary SQLite file; a fresh PostgreSQL database on 127.0.0.1) it
migrates, stores ``--channels`` watched calendars (memory accounts, so the syncs the
notifications cause never leave the machine) and starts two servers as child processes with
identical uvicorn settings: the app (``app.main:create_app``) and a bare FastAPI app whose one
POST endpoint answers 200 with no work. A keep-alive client (plain asyncio, ``--concurrency``
connections, one request in flight on each) sends ``--requests`` valid notifications of each
of ``--providers`` to each server: Google (channel id, token, resource id, increasing message
numbers) or Graph (a JSON body with one change: subscription id, clientState, a new etag each
time), round-robin over the channels, after ``--warmup`` unmeasured ones, in ``--rounds``
rounds alternating between the two servers.
``--syncs parked`` (default) parks the accounts (they need reconnecting), so the sync each
accepted hint starts stops after one query: the figures are ingest and hand-over;
``--syncs memory`` runs real incremental syncs of the memory calendars in the server too.
Prints one JSON object on stdout. Not a test: asserts nothing.

    .venv/bin/python bench/webhooks.py [--requests 4000] [--concurrency 16] [--syncs parked]
        [--providers google,microsoft] [--databases sqlite,postgresql]
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
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx

from app.db.models import AccountStatus, Calendar
from app.db.session import make_engine, make_session_factory, transaction
from app.security import hash_token
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from bench.booking import database
from connectors.base import CalendarInfo

NAME = "webhooks"
TEST_KEY = "p0tAk3Cq3LAd1FQm0x2YF3fNGhW6iSl7n5vQbWmZ0bA="
BARE_APP = """
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/webhooks/{provider}")
async def hook(provider: str, request: Request) -> Response:
    await request.body()
    return Response(status_code=200)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def channels(url: str, number: int, syncs: str) -> list[tuple[str, str, str]]:
    """``number`` watched calendars: (channel id, token, resource id) of each.

    ``syncs`` "parked": the accounts need reconnecting, so the sync each hint starts stops
    after reading the account (the figure is ingest and hand-over); "memory": real incremental
    syncs of the (memory) calendars run in the server process too.
    """
    engine = make_engine(url)
    out = []
    with transaction(make_session_factory(engine)) as session:
        for n in range(number):
            email = f"hook{n}@corp.example"
            user, _ = create_user(session, email, "UTC", with_token=False)
            info = CalendarInfo(id="primary", name=email, primary=True)
            account = add_account(session, user, "memory", email, [info])
            if syncs == "parked":
                account.status = AccountStatus.NEEDS_REAUTH
            calendar = session.query(Calendar).filter_by(account_id=account.id).one()
            channel, token, resource = f"chan-{n}", f"token-{n}-s3cret", f"res-{n}"
            calendar.watch_id, calendar.watch_resource_id = channel, resource
            calendar.watch_secret_hash = hash_token(token)
            calendar.watch_expires_at = datetime.now(UTC) + timedelta(days=7)
            out.append((channel, token, resource))
    engine.dispose()
    return out


@contextlib.contextmanager
def server(target: list[str], env: dict[str, str], cwd: str, workers: int) -> Iterator[int]:
    """uvicorn serving ``target`` on a free loopback port; the port."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    command += ["--workers", str(workers)] if workers > 1 else []
    process = subprocess.Popen(command, env=env, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{base}/webhooks/none", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{target} did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length framed); its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(lines[0].split(" ")[1])


def google_request(channel: str, token: str, resource: str, number: int) -> bytes:
    """One numbered Google notification (headers only)."""
    return (
        "POST /webhooks/google HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Goog-Channel-ID: {channel}\r\nX-Goog-Channel-Token: {token}\r\n"
        f"X-Goog-Resource-ID: {resource}\r\nX-Goog-Resource-State: exists\r\n"
        f"X-Goog-Message-Number: {number}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def graph_request(channel: str, token: str, _resource: str, number: int) -> bytes:
    """One Graph change notification (an event updated: a new etag each time)."""
    body = json.dumps(
        {
            "value": [
                {
                    "subscriptionId": channel,
                    "clientState": token,
                    "changeType": "updated",
                    "resource": f"Users/u/Events/ev{number % 97}",
                    "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
                    "tenantId": "00000000-0000-0000-0000-000000000000",
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Event",
                        "@odata.id": f"Users/u/Events/ev{number % 97}",
                        "@odata.etag": f'W/"etag-{number}"',
                        "id": f"ev{number % 97}",
                    },
                }
            ]
        }
    ).encode()
    head = (
        "POST /webhooks/microsoft HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


REQUESTS = {"google": google_request, "microsoft": graph_request}


async def load(
    port: int,
    chans: list[tuple[str, str, str]],
    total: int,
    concurrency: int,
    numbers: count[int],
    provider: str = "google",
) -> dict[str, Any]:
    """Send ``total`` notifications over ``concurrency`` keep-alive connections, one request
    in flight on each; rate and latencies. A plain asyncio HTTP/1.1 client, so the client
    costs far less than the servers it measures."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = count()
    build = REQUESTS[provider]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next(sent) < total:
                number = next(numbers)
                channel, token, resource = chans[number % len(chans)]
                request = build(channel, token, resource, number)
                started = time.perf_counter()
                writer.write(request)
                code = await _answer(reader)
                latencies.append(time.perf_counter() - started)
                statuses[code] = statuses.get(code, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def measure(kind: str, args: argparse.Namespace) -> dict[str, object]:
    """Both servers on one database of ``kind``."""
    with database(kind) as url, tempfile.TemporaryDirectory() as folder:
        chans = channels(url, args.channels, args.syncs)
        Path(folder, "bare_app.py").write_text(BARE_APP)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "GG_ENV": "development",
            "GG_DEMO_CALENDAR": "false",
            "GG_DATABASE_URL": url,
            "GG_ENCRYPTION_KEYS": TEST_KEY,
            "GG_SCHEDULER_ENABLED": "false",
            "GG_LOG_LEVEL": "WARNING",
            # Google must be configured for /webhooks/google to exist; the calendars are memory
            # accounts, so nothing is ever asked of Google.
            "GG_GOOGLE_CLIENT_ID": "bench.apps.googleusercontent.com",
            "GG_GOOGLE_CLIENT_SECRET": "bench",
            "GG_MICROSOFT_CLIENT_ID": "bench-graph",
            "GG_MICROSOFT_CLIENT_SECRET": "bench",
        }
        numbers = count(1_000)
        targets = {
            "ours": ["--factory", "app.main:create_app"],
            "bare": ["bare_app:app"],
        }
        providers = args.providers.split(",")
        rounds: dict[tuple[str, str], list[dict[str, Any]]] = {
            (provider, name): [] for provider in providers for name in targets
        }
        with contextlib.ExitStack() as stack:
            ports = {
                name: stack.enter_context(server(target, env, folder, args.workers))
                for name, target in targets.items()
            }
            # Rounds alternate between the servers, so load from elsewhere on the machine
            # falls on both alike; the median round counts.
            for index in range(args.rounds):
                for provider in providers:
                    for name, port in ports.items():
                        print(f"{kind} {provider} {name} round {index + 1} ...", file=sys.stderr)
                        asyncio.run(
                            load(port, chans, args.warmup, args.concurrency, numbers, provider)
                        )
                        figures = asyncio.run(
                            load(port, chans, args.requests, args.concurrency, numbers, provider)
                        )
                        rounds[(provider, name)].append(figures)
        results: dict[str, Any] = {"database": kind}
        for provider in providers:
            out: dict[str, Any] = {}
            for name in targets:
                runs = rounds[(provider, name)]
                out[name] = {
                    "req_per_s": round(statistics.median(r["req_per_s"] for r in runs), 1),
                    "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
                    "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
                    "worst_p99_ms": max(r["p99_ms"] for r in runs),
                    "rounds": runs,
                }
            out["ratio_to_bare"] = round(out["ours"]["req_per_s"] / out["bare"]["req_per_s"], 3)
            results[provider] = out
        return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per server")
    parser.add_argument("--syncs", choices=["parked", "memory"], default="parked")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--providers", default="google,microsoft")
    args = parser.parse_args(argv)
    report = {
        "name": NAME,
        "requests": args.requests,
        "warmup": args.warmup,
        "concurrency": args.concurrency,
        "channels": args.channels,
        "workers": args.workers,
        "rounds": args.rounds,
        "syncs": args.syncs,
        "providers": args.providers.split(","),
        "results": [measure(kind, args) for kind in args.databases.split(",")],
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
