"""Schemathesis over every operation of the API, in-process (issue 11 "Must show").

Each generated request is sent as a signed-in person who has an account, a plan, a policy, a
channel and a booking (so generated ids sometimes exist). Every answer must be a non-5xx
documented status, with the documented content type and body schema.

Bounded in `make test`; `make fuzz` runs the same test with more examples per operation
(GG_FUZZ_EXAMPLES) and prints the count of cases it ran.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from sqlalchemy import Engine, select

from app import runtime as runtime_module
from app.db.models import User
from app.db.session import transaction
from app.main import create_app
from app.runtime import build_runtime
from app.services.accounts.rows import add_account
from tests.signups import api_token
from tests.support.settings import make_settings
from tests.support.world import FakeClock, MemoryWorld

EXAMPLES = int(os.environ.get("GG_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Routes a generated request must not drive: the OAuth start redirects a browser to the
# provider's real site (outside this process).
SKIP = {("GET", "/auth/{provider}/start")}
_tally: Counter[str] = Counter()


@pytest.fixture(scope="module")
def world_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from app.db.migrate import upgrade
    from app.db.session import make_engine

    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'growthguard.db'}"
    upgrade(url)
    engine: Engine = make_engine(url)
    world = MemoryWorld()
    runtime = build_runtime(
        make_settings(url), connectors=world.provider(), clock=FakeClock(), engine=engine
    )
    app = create_app(runtime, scheduler=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {api_token(client, 'fuzz@corp.example', 'UTC')}"}
        with transaction(runtime.sessions) as session:
            user = session.scalars(select(User)).one()
            add_account(session, user, "memory", user.email, world.store(user.email).calendars())
        plan = client.post("/plans", json={"goal": "Fuzz"}, headers=auth).json()
        client.put(f"/plans/{plan['id']}/policy/preset/strict", headers=auth)
        client.post("/notification-channels", json={"kind": "email", "target": "a@b.example"},
                    headers=auth)  # fmt: skip
        client.post(f"/plans/{plan['id']}/book", headers=auth)
        yield client, auth
    runtime_module.install(None)
    engine.dispose()


# The schema the app serves (building it needs no runtime); requests go to `world_app`.
# Valid and invalid data both: a malformed request must get a 4xx, never a 500.
CONFIG = SchemathesisConfig.from_dict({"generation": {"mode": "all"}})
schema = schemathesis.openapi.from_dict(create_app(scheduler=False).openapi(), config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation(case: Any, world_app: tuple[TestClient, dict[str, str]]) -> None:
    if (case.method.upper(), case.path) in SKIP:
        pytest.skip("redirects to the provider's real site")
    client, auth = world_app
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=auth)
    kwargs.pop("cookies", None)
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")  # raw bodies (httpx wants `content`)
    response = client.request(**kwargs)
    _tally[case.operation.label] += 1
    case.validate_response(response, checks=CHECKS)


def test_report_case_count() -> None:
    """Prints how many cases ran (make fuzz shows it); runs after the parametrized test."""
    operations = list(_tally)
    total = sum(_tally.values())
    print(f"\nschemathesis: {total} cases over {len(operations)} operations")
