"""Request validation for the fake Google server, from the discovery document that
google-api-python-client ships (`calendar.v3.json`): bodies against their schema (types,
enums, unknown fields), query parameters against each method (types, enums, ranges, unknown or
repeated parameters).

Discovery states most enums of body fields only in prose ("Possible values are: - "opaque" -
..."); they are read from there. Two are written as sentences; `PROSE_ENUMS` spells those out.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from functools import cache
from typing import Any

from tests.fakes.google_store import ApiError

__all__ = ["check_body", "check_params", "discovery", "method"]

_VALUE = re.compile(r'^- "([^"]+)" -', re.MULTILINE)
# Enums the discovery text gives as sentences rather than "- "value" -" lists.
PROSE_ENUMS = {
    ("EventFocusTimeProperties", "autoDeclineMode"): [
        "declineNone",
        "declineAllConflictingInvitations",
        "declineOnlyNewConflictingInvitations",
    ],
    ("EventFocusTimeProperties", "chatStatus"): ["available", "doNotDisturb"],
    ("EventOutOfOfficeProperties", "autoDeclineMode"): [
        "declineNone",
        "declineAllConflictingInvitations",
        "declineOnlyNewConflictingInvitations",
    ],
    ("Channel", "type"): ["web_hook", "webhook"],
}
# Ranges the discovery text states in prose.
RANGES = {("EventReminder", "minutes"): (0, 40320)}
MAX_ITEMS = {("Event", "reminders", "overrides"): 5}


@cache
def discovery() -> dict[str, Any]:
    files = importlib.resources.files("googleapiclient")
    path = files / "discovery_cache" / "documents" / "calendar.v3.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def method(resource: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = discovery()["resources"][resource]["methods"][name]
    return found


def _enum(schema_name: str, field: str, spec: dict[str, Any]) -> list[str] | None:
    if (schema_name, field) in PROSE_ENUMS:
        return PROSE_ENUMS[(schema_name, field)]
    if "enum" in spec:
        return list(spec["enum"])
    description = str(spec.get("description", ""))
    if "Possible values are" in description:
        values = _VALUE.findall(description)
        return values or None
    return None


def _bad(path: str, message: str) -> ApiError:
    return ApiError(400, "invalid", f"Invalid value for {path}: {message}")


def check_body(schema_name: str, body: Any, path: str = "resource") -> None:
    """Raise a 400 `ApiError` when `body` does not fit the discovery schema `schema_name`."""
    schema = discovery()["schemas"][schema_name]
    _check_object(schema_name, schema, body, path)


def _check_object(schema_name: str, schema: dict[str, Any], value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise _bad(path, "expected an object")
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        where = f"{path}.{key}"
        if properties is not None and key in properties:
            _check_value(schema_name, key, properties[key], item, where)
        elif extra is not None:
            _check_value(schema_name, key, extra, item, where)
        else:
            raise ApiError(400, "invalid", f"Invalid JSON payload: unknown name {where!r}")


def _check_value(owner: str, field: str, spec: dict[str, Any], value: Any, path: str) -> None:
    if value is None:
        return  # JSON null clears a field on patch
    if "$ref" in spec:
        ref = spec["$ref"]
        _check_object(ref, discovery()["schemas"][ref], value, path)
        return
    kind = spec.get("type")
    if kind == "string":
        if not isinstance(value, str):
            raise _bad(path, "expected a string")
        allowed = _enum(owner, field, spec)
        if allowed is not None and value not in allowed:
            raise _bad(path, f"{value!r} is not one of {', '.join(allowed)}")
        if spec.get("format") == "int64" and not value.lstrip("-").isdigit():
            raise _bad(path, "expected an int64 string")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(path, "expected an integer")
        low, high = RANGES.get((owner, field), (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            raise _bad(path, f"must be between {low} and {high}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _bad(path, "expected true or false")
    elif kind == "array":
        if not isinstance(value, list):
            raise _bad(path, "expected a list")
        limit = next((n for key, n in MAX_ITEMS.items() if path.endswith(".".join(key[1:]))), None)
        if limit is not None and len(value) > limit:
            raise _bad(path, f"at most {limit} items")
        for index, item in enumerate(value):
            _check_value(owner, field, spec["items"], item, f"{path}[{index}]")
    elif kind == "object":
        _check_object(owner, spec, value, path)


def check_params(resource: str, name: str, query: dict[str, list[str]]) -> None:
    """Raise a 400 `ApiError` for parameters the method does not take or values it refuses."""
    spec = method(resource, name).get("parameters", {})
    shared = discovery()["parameters"]
    for key, values in query.items():
        declared = spec.get(key) or shared.get(key)
        if declared is None or declared.get("location") == "path":
            raise ApiError(400, "invalid", f"Unknown parameter {key!r} for {name}")
        if len(values) > 1 and not declared.get("repeated"):
            raise ApiError(400, "invalid", f"Parameter {key!r} may be given once")
        for value in values:
            _check_param(key, declared, value)


def _check_param(key: str, spec: dict[str, Any], value: str) -> None:
    kind = spec.get("type")
    if kind == "boolean" and value not in ("true", "false"):
        raise ApiError(400, "invalid", f"Invalid boolean value {value!r} for {key}")
    if kind == "integer":
        if not value.lstrip("-").isdigit():
            raise ApiError(400, "invalid", f"Invalid integer value {value!r} for {key}")
        number = int(value)
        if "minimum" in spec and number < int(spec["minimum"]):
            raise ApiError(400, "invalid", f"{key} must be at least {spec['minimum']}")
        if "maximum" in spec and number > int(spec["maximum"]):
            raise ApiError(400, "invalid", f"{key} must be at most {spec['maximum']}")
    if "enum" in spec and value not in spec["enum"]:
        raise ApiError(400, "invalid", f"Invalid value {value!r} for {key}")
