"""Local receivers for notification tests: an SMTP inbox (aiosmtpd) and an HTTP recorder."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.faults import Faults


def message_from_bytes(data: bytes, policy: Any = default_policy) -> Any:
    return BytesParser(policy=policy).parsebytes(data)


class Inbox:
    """aiosmtpd handler that keeps every message it accepts; a planned fault refuses one with
    its status as the SMTP reply code (e.g. `inbox.faults.fail_next(status=451)`)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.faults = Faults()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self.faults.take("DATA", "", envelope.content)
        if fault is not None:
            return f"{fault.status} Injected failure"
        parsed = message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every POST; answers 200, or a planned fault (`receiver.faults.fail_next(...)`)."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)

    def app(self) -> Starlette:
        async def handle(request: Request) -> Response:
            body = await request.body()
            self.requests.append(Received(request.url.path, dict(request.headers), body))
            fault = self.faults.take(request.method, request.url.path, body)
            if fault is None:
                return Response(status_code=200)
            return Response(status_code=fault.status, headers=fault.response_headers())

        return Starlette(routes=[Route("/{path:path}", handle, methods=["POST"])])
