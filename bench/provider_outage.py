"""Requests while Microsoft Graph throttles (429) or is down (503), with Retry-After: 90.

    .venv/bin/python bench/provider_outage.py [--requests 20]

For each status: latency of GET /plans/{id}/preview (answers 503 + Retry-After) and of
POST /plans/{id}/book (answers 202; the run waits the provider's 90 s), and how many Graph
calls each request made. Prints one JSON object. Before the fix: 28 s, 16 calls, then a 500.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db.migrate import upgrade
from app.db.session import make_engine
from app.domain.time import IsoWeek
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from connectors.microsoft.oauth import MicrosoftConfig
from tests.e2e.harness import PUBLIC_URL, AppServer, browser, wait_until
from tests.fakes.graph_server import CLIENT_ID, CLIENT_SECRET, FakeGraphServer
from tests.support.settings import make_settings

USER = "bench@contoso.example"


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 4),
        "max": round(ordered[-1], 4),
    }


def measure(status: int, requests: int, folder: Path) -> dict[str, object]:
    url = f"sqlite:///{folder / f'gg-{status}.db'}"
    upgrade(url)
    engine = make_engine(url)
    with FakeGraphServer() as fake:
        fake.identity.register_app(
            CLIENT_ID, CLIENT_SECRET, f"{PUBLIC_URL}/auth/microsoft/callback"
        )
        fake.add_user(USER, "Calendar")
        settings = make_settings(
            url,
            public_url=PUBLIC_URL,
            microsoft_client_id=CLIENT_ID,
            microsoft_client_secret=CLIENT_SECRET,
        )
        providers = Providers(
            microsoft=MicrosoftConfig(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                redirect_uri=settings.redirect_uri("microsoft"),
                msal_http_client=fake.routing_session(),
                graph_transport=fake.routing_transport(),
            )
        )
        runtime = build_runtime(settings, engine=engine, providers=providers)
        with AppServer(create_app(runtime, scheduler=False)) as server:
            fake.deliver_to(server.base_url)
            login = {"login.microsoftonline.com": fake.base_url}
            with browser(server.base_url, login) as client:
                client.get("/auth/microsoft/start", follow_redirects=True)
                wait_until(lambda: client.get("/accounts").json()[0]["calendars"], 10)
                plan = client.post("/plans", json={"goal": "Bench"}).json()
                week = str(IsoWeek.containing(datetime.now(UTC), UTC).next())
                fake.faults.fail_next(None, status=status, retry_after=90, path="/me/")
                results: dict[str, dict[str, list[float]]] = {}
                base, query = f"/plans/{plan['id']}", {"week": week}
                for name, call in (
                    ("preview", lambda: client.get(f"{base}/preview", params=query)),
                    ("book", lambda: client.post(f"{base}/book", params=query)),
                ):
                    seconds, calls, codes = [], [], []
                    for _ in range(requests):
                        before = len(fake.graph_requests("/me/"))
                        started = time.perf_counter()
                        answer = call()
                        seconds.append(time.perf_counter() - started)
                        time.sleep(0.05)  # a queued run makes its one attempt meanwhile
                        calls.append(len(fake.graph_requests("/me/")) - before)
                        codes.append(answer.status_code)
                    results[name] = {"seconds": seconds, "calls": calls, "codes": codes}
    engine.dispose()
    return {
        name: {
            "latency_seconds": _stats(r["seconds"]),
            "graph_calls_per_request": {"max": max(r["calls"]), "total": sum(r["calls"])},
            "status_codes": sorted(set(r["codes"])),
        }
        for name, r in results.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with tempfile.TemporaryDirectory() as tmp:
        figures = {str(code): measure(code, args.requests, Path(tmp)) for code in (429, 503)}
    print(
        json.dumps(
            {
                "name": "provider_outage",
                "retry_after_seconds": 90,
                "requests_each": args.requests,
                "figures": figures,
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
