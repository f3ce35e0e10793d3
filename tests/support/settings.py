"""Settings for tests: no .env file, a fixed encryption key."""

from __future__ import annotations

from app.config import Environment, Settings

TEST_KEY = "p0tAk3Cq3LAd1FQm0x2YF3fNGhW6iSl7n5vQbWmZ0bA="


def make_settings(db_url: str, **overrides: object) -> Settings:
    """Settings for tests: no .env file, fixed test key."""
    values: dict[str, object] = {
        "env": Environment.TEST,
        "database_url": db_url,
        "encryption_keys": TEST_KEY,
        "scheduler_enabled": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
