"""Signing up through the JSON API and reading its validation errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.signups import api_token


def signup(
    client: TestClient, email: str = "me@corp.example", zone: str = "Europe/Berlin"
) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, email, zone)}"}


def error_fields(response) -> list[str]:
    return [".".join(str(p) for p in item["loc"]) for item in response.json()["detail"]]
