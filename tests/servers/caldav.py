"""Radicale and Xandikos as subprocesses on free loopback ports, plus what tests do to them.

Radicale runs through `app.demo.radicale.RadicaleProcess` (the demo calendar's own launcher),
with htpasswd users; Xandikos runs single-user (it has no authentication of its own).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import caldav

from app.demo.radicale import RadicaleProcess
from tests.support.servers import ProcessServer, free_port

USER, PASSWORD, EMAIL = "alice", "s3cret-app-password", "alice@example.com"


class CalDavServer(Protocol):
    """What tests need from a running server."""

    name: str
    base_url: str

    def principal_url(self, user: str = USER) -> str: ...

    def expire_sync_tokens(self, calendar_url: str) -> None: ...


@dataclass
class RunningRadicale:
    process: RadicaleProcess
    name: str = "radicale"
    ca: Path | None = None  # the certificate to trust, for a server with TLS

    @property
    def base_url(self) -> str:
        return self.process.url

    def principal_url(self, user: str = USER) -> str:
        return f"{self.process.url}{user}/"

    def calendar_folder(self, calendar_url: str) -> Path:
        path = calendar_url.split("://", 1)[1].split("/", 1)[1].strip("/")
        return self.process.collections / "collection-root" / path

    def expire_sync_tokens(self, calendar_url: str) -> None:
        """Forget every token Radicale issued for the calendar.

        Radicale keeps one file per issued token; without them an old token is unknown, except
        one that still names the current state (it answers "no changes" without looking). So
        the state moves on too: an object is added and deleted again (leaving no trace a
        client sees).
        """
        shutil.rmtree(self.calendar_folder(calendar_url) / ".Radicale.cache" / "sync-token")
        with dav_client(self) as client:
            href = f"{calendar_url}expire-{uuid.uuid4().hex}.ics"
            body = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
                f"UID:{uuid.uuid4()}\r\nDTSTAMP:20310101T000000Z\r\n"
                "DTSTART:20310101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            assert client.put(href, body, {"Content-Type": "text/calendar"}).status == 201
            assert client.delete(href).status in (200, 204)


@contextlib.contextmanager
def radicale(folder: Path, *, tls: tuple[Path, Path] | None = None) -> Iterator[RunningRadicale]:
    """Radicale with the user alice (and its app password) on a free port."""
    process = RadicaleProcess(folder, free_port(), tls=tls, auth_delay=0)
    process.add_user(USER, PASSWORD)
    with process:
        yield RunningRadicale(process, ca=tls[0] if tls else None)


@dataclass
class RunningXandikos:
    folder: Path
    port: int
    name: str = "xandikos"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def principal_url(self, user: str = USER) -> str:
        return f"{self.base_url}{user}/"

    def expire_sync_tokens(self, calendar_url: str) -> None:
        """Make Xandikos forget every token issued so far for the calendar.

        Its tokens are the ids of the git trees the calendar had. A task (VTODO, which the
        connector ignores) moves the calendar to a new tree, and the old tree objects are
        deleted from the repository: Xandikos then answers 412 DAV:valid-sync-token.
        """
        from dulwich.repo import Repo

        path = calendar_url.split("://", 1)[1].split("/", 1)[1].strip("/")
        repo = Repo(str(self.folder / path))
        try:
            objects = Path(repo.controldir()) / "objects"
            before = {p for p in objects.glob("??/*") if p.is_file()}
            with dav_client(self) as client:
                body = (
                    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VTODO\r\n"
                    f"UID:{uuid.uuid4()}\r\nDTSTAMP:20310101T000000Z\r\nSUMMARY:x\r\n"
                    "END:VTODO\r\nEND:VCALENDAR\r\n"
                )
                href = f"{calendar_url}expire-{uuid.uuid4().hex}.ics"
                assert client.put(href, body, {"Content-Type": "text/calendar"}).status == 201
            for loose in before:
                sha = (loose.parent.name + loose.name).encode()
                if repo.object_store[sha].type_name == b"tree":
                    loose.unlink()
        finally:
            repo.close()


@contextlib.contextmanager
def xandikos(folder: Path) -> Iterator[RunningXandikos]:
    """Xandikos serving `folder` with the principal /alice/ on a free port."""
    executable = Path(sys.executable).with_name("xandikos")
    program = [str(executable)] if executable.exists() else [sys.executable, "-m", "xandikos"]

    def command(port: int) -> list[str]:
        return [
            *program,
            *("-d", str(folder), "--defaults", "--current-user-principal", f"/{USER}/"),
            *("-l", "127.0.0.1", "-p", str(port)),
        ]

    with ProcessServer(command, folder.parent / f"{folder.name}.log") as server:
        yield RunningXandikos(folder, server.port)


def dav_client(
    server: CalDavServer, user: str = USER, password: str = PASSWORD
) -> caldav.DAVClient:
    """A second, independent CalDAV client (the rest of the world, another organizer...)."""
    ca = getattr(server, "ca", None)
    return caldav.DAVClient(
        url=server.principal_url(user),
        username=user,
        password=password,
        timeout=10,
        ssl_verify_cert=str(ca) if ca else True,
    )


def new_calendar(server: CalDavServer, name: str = "Work") -> str:
    """A fresh, empty event calendar; its URL."""
    with dav_client(server) as client:
        calendar = client.principal().make_calendar(name=name, cal_id=uuid.uuid4().hex[:12])
        return str(calendar.url)
