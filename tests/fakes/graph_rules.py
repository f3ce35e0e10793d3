"""What Graph refuses in event bodies and event actions, for the fake server.

Property names, enums and the extended-property id format follow the Graph v1.0 reference
(`resources/event.md`, `resources/singlevaluelegacyextendedproperty.md`, `api/event-decline.md`).
The fake models only some properties; the others are accepted and ignored, but a name Graph
does not know is refused, as Graph does ("property does not exist on type").
"""

from __future__ import annotations

import re
from typing import Any

Reply = tuple[int, dict[str, Any]]

EVENT_PROPERTIES = frozenset(
    {
        "allowNewTimeProposals", "attendees", "body", "categories", "end", "hideAttendees",
        "importance", "isAllDay", "isOnlineMeeting", "isReminderOn", "location", "locations",
        "multiValueExtendedProperties", "onlineMeetingProvider", "recurrence",
        "reminderMinutesBeforeStart", "responseRequested", "responseStatus", "sensitivity",
        "showAs",
        "singleValueExtendedProperties", "start", "subject", "transactionId",
    }
)  # fmt: skip
ENUMS = {
    "showAs": {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"},
    "sensitivity": {"normal", "personal", "private", "confidential"},
    "importance": {"low", "normal", "high"},
}
BOOLEANS = {
    "allowNewTimeProposals", "hideAttendees", "isAllDay", "isOnlineMeeting", "isReminderOn",
    "responseRequested",
}  # fmt: skip
BODY_TYPES = {"text", "html"}
RESPONSES = {"none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded"}
ACTION_PARAMETERS = {
    "accept": {"comment", "sendResponse"},
    "tentativelyAccept": {"comment", "sendResponse", "proposedNewTime"},
    "decline": {"comment", "sendResponse", "proposedNewTime"},
}
_PROPERTY_TYPES = (
    "Binary|Boolean|Currency|CLSID|Double|Float|Integer|Long|Object|Short|String|SystemTime"
)
# "{type} {guid} Name {name}", "{type} {guid} Id {0xhex}" or "{type} {0xhex}" (a tag).
_EXTENDED_ID = re.compile(
    rf"(?:{_PROPERTY_TYPES}) (?:\{{[0-9a-fA-F]{{8}}(?:-[0-9a-fA-F]{{4}}){{3}}-[0-9a-fA-F]{{12}}\}}"
    r" (?:Name \S.{0,254}|Id 0x[0-9a-fA-F]{1,8})|0x[0-9a-fA-F]{4})"
)


def _error(code: str, message: str) -> Reply:
    return 400, {"error": {"code": code, "message": message}}


def check_event(body: dict[str, Any]) -> Reply | None:
    """None when Graph would take this event body, else its 400 answer."""
    for name, value in body.items():
        if name.startswith("@odata."):
            continue
        if name not in EVENT_PROPERTIES:
            return _error(
                "RequestBodyRead",
                f"The property '{name}' does not exist on type 'microsoft.graph.event'.",
            )
        if name in ENUMS and value not in ENUMS[name]:
            return _error("RequestBodyRead", f"Requested value '{value}' was not found ({name}).")
        if name in BOOLEANS and not isinstance(value, bool):
            return _error("RequestBodyRead", f"'{name}' must be a boolean.")
    content = body.get("body")
    if content is not None and (
        not isinstance(content, dict) or content.get("contentType", "text") not in BODY_TYPES
    ):
        return _error("RequestBodyRead", "body.contentType must be text or html.")
    for prop in body.get("singleValueExtendedProperties") or []:
        if not isinstance(prop, dict) or set(prop) - {"id", "value"}:
            return _error("RequestBodyRead", "An extended property has only id and value.")
        if not _EXTENDED_ID.fullmatch(str(prop.get("id", ""))):
            return _error("ErrorInvalidExtendedPropertyValue", f"Invalid id {prop.get('id')!r}.")
        if not isinstance(prop.get("value"), str):
            return _error("ErrorInvalidExtendedPropertyValue", "The value must be a string.")
    status = (
        (body.get("responseStatus") or {}).get("response") if "responseStatus" in body else None
    )
    if status is not None and status not in RESPONSES:
        return _error("RequestBodyRead", f"Requested value '{status}' was not found.")
    return None


def check_action(action: str, body: dict[str, Any]) -> Reply | None:
    """None when the parameters fit the action (accept / tentativelyAccept / decline)."""
    unknown = set(body) - ACTION_PARAMETERS[action]
    if unknown:
        name = sorted(unknown)[0]
        return _error(
            "UnrecognizedParameter" if name != "proposedNewTime" else "ErrorInvalidRequest",
            f"The parameter '{name}' in the request payload is not a valid parameter for the "
            f"function '{action}'.",
        )
    if "sendResponse" in body and not isinstance(body["sendResponse"], bool):
        return _error("RequestBodyRead", "sendResponse must be a boolean.")
    return None
