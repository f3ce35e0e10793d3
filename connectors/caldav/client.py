"""Thin CalDAV calls over the `caldav` library's `DAVClient`, with every failure mapped once.

The library does the transport (session, authentication, RFC 6764 discovery), the principal and
calendar-home lookups, calendar-query searches and sync-collection. Writes are conditional PUTs
and DELETEs sent through `DAVClient.put`/`delete` with our own precondition headers, because
`save()` picks its headers from server heuristics (it may search instead of sending
`If-None-Match: *`, prefers `If-Schedule-Tag-Match`, and bumps SEQUENCE), and we need the exact
status to tell "already there" from "changed meanwhile".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import unquote, urljoin, urlsplit

import niquests
from caldav.collection import Calendar, Principal
from caldav.davclient import DAVClient
from caldav.elements import dav
from caldav.lib import error as dav_error

from connectors.caldav.credentials import CalDavCredentials
from connectors.caldav.mapping import Resource
from connectors.errors import (
    Collision,
    ConnectorError,
    CursorExpired,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
    error_for_status,
    retry_after_seconds,
)
from connectors.netpolicy import (
    PUBLIC_ONLY,
    AddressRefused,
    Reach,
    Resolver,
    parse_address,
    refused_kind,
    system_resolver,
)

__all__ = [
    "CalDavClient",
    "CalendarProps",
    "PreconditionFailed",
    "SyncUnsupported",
    "name_of",
]

VALID_SYNC_TOKEN = "{DAV:}valid-sync-token"
_UID_CONFLICT = ("no-uid-conflict", "unique-scheduling-object-resource")
_ICAL = {"Content-Type": "text/calendar; charset=utf-8"}
_PROPFIND_CALENDARS = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:resourcetype/><d:displayname/><d:current-user-privilege-set/>
    <c:supported-calendar-component-set/><c:calendar-timezone/>
  </d:prop>
</d:propfind>"""
_PROPFIND_ETAGS = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"""
_NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav"}


class PreconditionFailed(Collision):
    """412: the resource is not in the state the request assumed (exists, or changed)."""


class SyncUnsupported(ConnectorError):
    """The server has no usable sync-collection REPORT for this calendar."""


@dataclass(frozen=True)
class CalendarProps:
    url: str
    name: str
    events: bool
    can_write: bool
    timezone: str | None


def name_of(href: str) -> str:
    """The resource name (last path segment) of an object's URL."""
    return unquote(urlsplit(str(href)).path.rstrip("/").rsplit("/", 1)[-1])


def _by_status(status: int | None, what: str, retry_after: str | None = None) -> ConnectorError:
    """The connector error for an HTTP status (the one place CalDAV statuses are mapped)."""
    return error_for_status(
        status,
        f"{what} failed (HTTP {status})",
        retry_after=retry_after,
        special={
            401: lambda _: ReauthRequired(f"the CalDAV server refused the credentials ({what})"),
            412: lambda _: PreconditionFailed(f"{what}: the resource changed meanwhile (HTTP 412)"),
        },
    )


class _AddressGuard:
    """Refuses requests to addresses the deployment does not reach (connectors/netpolicy)."""

    def __init__(self, reach: Reach, resolve: Resolver) -> None:
        self.reach = reach
        self.resolve = resolve

    def before_connecting(self, request: Any, **_: Any) -> None:
        parts = urlsplit(str(request.url or ""))
        host = (parts.hostname or "").rstrip(".")
        addresses: Sequence[str]
        try:
            addresses = [str(parse_address(host))]
        except ValueError:
            try:
                addresses = self.resolve(host, parts.port or 443)
            except (OSError, UnicodeError):
                return  # the request itself fails as "unknown host"
        self._check(host, addresses)

    def connected(self, request: Any, **_: Any) -> None:
        info = getattr(request, "conn_info", None)
        peer = getattr(info, "destination_address", None)
        if peer:
            self._check(urlsplit(str(request.url or "")).hostname or "", [str(peer[0])])

    def _check(self, host: str, addresses: Sequence[str]) -> None:
        refused = refused_kind(addresses, self.reach)
        if refused is not None:
            kind, address = refused
            raise AddressRefused(f"{host} is at a {kind} address ({address}), not reached here")


class CalDavClient:
    """One CalDAV account. Not shared between threads (build one per connector)."""

    def __init__(
        self,
        credentials: CalDavCredentials,
        *,
        timeout: float = 30.0,
        reach: Reach = PUBLIC_ONLY,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.credentials = credentials
        self._dav = DAVClient(
            url=credentials.url,
            username=credentials.username,
            password=credentials.password,
            auth_type=credentials.auth_type,
            timeout=int(max(timeout, 1)),
            ssl_verify_cert=credentials.verify_tls,
            enable_rfc6764=False,
        )
        guard = _AddressGuard(reach, resolve)
        # Every request, also to a URL the server named (an href, a redirect), is checked
        # before it is sent: by name before connecting, by the connected peer's address after.
        self._dav.session.hooks["pre_request"].append(guard.before_connecting)
        self._dav.session.hooks["pre_send"].append(guard.connected)

    def close(self) -> None:
        self._dav.close()

    # --- mapping failures ----------------------------------------------------------------

    @contextlib.contextmanager
    def mapped(self, what: str) -> Iterator[None]:
        """Turn library and transport failures into connector errors."""
        try:
            yield
        except ConnectorError:
            raise
        except dav_error.RateLimitError as failure:
            raise RateLimited(retry_after_seconds(failure.retry_after)) from None
        except dav_error.DAVError as failure:
            if VALID_SYNC_TOKEN in (failure.preconditions or []):
                raise CursorExpired("the server no longer knows this sync token") from None
            if isinstance(failure, dav_error.NotFoundError):
                raise NotFound(f"{what}: not found") from None
            raise _by_status(failure.status, what) from None
        except niquests.exceptions.Timeout:
            raise TransientError(f"{what}: the CalDAV server did not answer in time") from None
        except niquests.exceptions.RequestException as failure:
            raise TransientError(f"{what}: {type(failure).__name__}") from None
        except (ValueError, KeyError, AttributeError) as failure:
            # lxml and the library raise these for answers that are not WebDAV XML
            raise ConnectorError(f"{what}: unexpected answer ({type(failure).__name__})") from None

    def _request(
        self, url: str, method: str, body: str = "", headers: dict[str, str] | None = None
    ) -> Any:
        with self.mapped(f"{method} {name_of(url) or url}"):
            return self._dav.request(url, method, body, headers or {})

    @staticmethod
    def _fail(response: Any, what: str) -> NoReturn:
        raise _by_status(response.status, what, response.headers.get("Retry-After"))

    # --- discovery and calendars ---------------------------------------------------------

    def principal(self) -> tuple[str, str, tuple[str, ...]]:
        """(principal URL, calendar-home URL, calendar-user addresses) of the account."""
        with self.mapped("finding the principal"):
            principal: Any = self._dav.principal()  # type: ignore[no-untyped-call]
            home = str(principal.calendar_home_set.url)
            try:
                listed = principal.calendar_user_address_set() or []
            except (dav_error.DAVError, ValueError, KeyError, AttributeError):
                listed = []  # optional property; not every server has it
            addresses = tuple(
                str(a)[7:].lower() for a in listed if str(a).lower().startswith("mailto:")
            )
            return str(principal.url), home, addresses

    def home_url(self) -> str:
        with self.mapped("finding the calendar home"):
            principal: Any = Principal(client=self._dav, url=self.credentials.url)
            return str(principal.calendar_home_set.url)

    def calendars(self, home: str) -> list[CalendarProps]:
        """Calendars under the home collection (one PROPFIND, parsed here)."""
        with self.mapped("listing calendars"):
            response = self._dav.propfind(home, _PROPFIND_CALENDARS, depth=1)
        if response.status >= 400:
            self._fail(response, "listing calendars")
        tree = response.tree
        if tree is None:
            raise ConnectorError("listing calendars: the server did not answer with WebDAV XML")
        found = []
        for item in tree.iter("{DAV:}response"):
            href = item.findtext("d:href", default="", namespaces=_NS)
            props = _ok_props(item)
            if props is None or props.find("d:resourcetype/c:calendar", _NS) is None:
                continue
            components = props.find("c:supported-calendar-component-set", _NS)
            kinds = (
                {str(c.get("name", "")).upper() for c in components.findall("c:comp", _NS)}
                if components is not None
                else {"VEVENT"}
            )
            privileges = props.find("d:current-user-privilege-set", _NS)
            can_write = privileges is None or any(
                privileges.find(f"d:privilege/d:{p}", _NS) is not None
                for p in ("all", "write", "write-content")
            )
            name = (props.findtext("d:displayname", namespaces=_NS) or "").strip()
            found.append(
                CalendarProps(
                    url=urljoin(home, href),
                    name=name or name_of(href),
                    events="VEVENT" in kinds,
                    can_write=can_write,
                    timezone=_tzid(props.findtext("c:calendar-timezone", namespaces=_NS)),
                )
            )
        return found

    def calendar_timezone(self, calendar_url: str) -> str | None:
        """The TZID of the calendar's CALDAV:calendar-timezone (how floating times are read)."""
        with self.mapped("reading the calendar's time zone"):
            response = self._dav.propfind(calendar_url, _PROPFIND_CALENDARS, depth=0)
        if response.status >= 400 or response.tree is None:
            return None
        for item in response.tree.iter("{DAV:}response"):
            props = _ok_props(item)
            if props is not None:
                return _tzid(props.findtext("c:calendar-timezone", namespaces=_NS))
        return None

    # --- objects -------------------------------------------------------------------------

    def query(self, calendar_url: str, start: datetime, end: datetime) -> list[Resource]:
        """Events of the calendar with an instance in [start, end) as the server sees it."""
        calendar: Any = Calendar(client=self._dav, url=calendar_url)  # sync client: no coroutines
        with self.mapped("searching events"):
            objects = calendar.search(
                event=True, start=start, end=end, props=[dav.GetEtag()], post_filter=False
            )
            return [Resource(name_of(obj.url), obj.etag, obj.data) for obj in objects if obj.data]

    def get(self, href: str) -> Resource | None:
        """The object at `href`, or None when there is none."""
        response = self._request(href, "GET")
        if response.status == 404 or response.status == 410:
            return None
        if response.status >= 400:
            self._fail(response, f"reading {name_of(href)}")
        raw = response.raw
        data = raw.decode() if isinstance(raw, bytes) else str(raw or "")
        return Resource(name_of(href), response.headers.get("ETag"), data)

    def by_uid(self, calendar_url: str, uid: str) -> Resource | None:
        """The object holding `uid` wherever it lives in the calendar (a search by UID)."""
        calendar: Any = Calendar(client=self._dav, url=calendar_url)  # sync client: no coroutines
        try:
            with self.mapped("searching by UID"):
                obj = calendar.get_event_by_uid(uid)
        except NotFound:
            return None
        return Resource(name_of(obj.url), obj.etag, obj.data)

    def put(
        self, href: str, data: str, *, if_match: str | None = None, create_only: bool = False
    ) -> str | None:
        """PUT with `If-None-Match: *` (create_only) or `If-Match`; returns the new ETag.

        The ETag may be missing from the answer (servers that rewrote the data): it is then
        read back. 412 raises PreconditionFailed; a UID already used at another URL raises
        Collision.
        """
        headers = dict(_ICAL)
        if create_only:
            headers["If-None-Match"] = "*"
        elif if_match is not None:
            headers["If-Match"] = if_match
        what = f"writing {name_of(href)}"
        try:
            response = self._request(href, "PUT", data, headers)
        except PermissionDenied:
            # Cyrus refuses a duplicate UID with 403 (raised by the library before we see it)
            if create_only:
                raise Collision(f"{what}: the UID is already used") from None
            raise
        if response.status in (409, 403) or (
            response.status == 412 and _names_uid_conflict(response)
        ):
            raise Collision(f"{what}: the UID is already used by another object")
        if response.status >= 400:
            self._fail(response, what)
        etag = response.headers.get("ETag")
        if etag and not etag.startswith("W/"):
            return str(etag)
        reread = self.get(href)
        return reread.etag if reread is not None else None

    def delete(self, href: str, if_match: str | None) -> None:
        headers = {"If-Match": if_match} if if_match else {}
        response = self._request(href, "DELETE", "", headers)
        if response.status >= 400:
            self._fail(response, f"deleting {name_of(href)}")

    # --- sync ----------------------------------------------------------------------------

    def sync(self, calendar_url: str, token: str | None) -> tuple[str, list[Resource], set[str]]:
        """sync-collection (RFC 6578): (new token, changed objects, names of deleted ones).

        The library's own fallback (a full listing with a made-up token) is disabled: an invalid
        token must raise CursorExpired (DAV:valid-sync-token, whatever the status), and a server
        without the report raises SyncUnsupported so the caller compares ETags instead.
        """
        calendar: Any = Calendar(client=self._dav, url=calendar_url)  # sync client: no coroutines
        try:
            with self.mapped("sync-collection"):
                result = calendar.get_objects_by_sync_token(
                    sync_token=token, load_objects=True, disable_fallback=True
                )
        except (CursorExpired, ReauthRequired, TransientError, NotFound):
            raise
        except ConnectorError as failure:
            raise SyncUnsupported(str(failure)) from None
        deleted = {name_of(url) for url in result.deleted_urls}
        changed = [
            Resource(name_of(obj.url), obj.etag, obj.data)
            for obj in result.objects
            if name_of(obj.url) not in deleted and obj.data
        ]
        if not result.sync_token:
            raise SyncUnsupported("the server returned no sync token")
        return str(result.sync_token), changed, deleted

    def etags(self, calendar_url: str) -> dict[str, str]:
        """Every object's ETag in the calendar (for servers without sync-collection)."""
        with self.mapped("listing ETags"):
            response = self._dav.propfind(calendar_url, _PROPFIND_ETAGS, depth=1)
        if response.status >= 400:
            self._fail(response, "listing ETags")
        tree = response.tree
        found: dict[str, str] = {}
        if tree is None:
            return found
        base = urlsplit(calendar_url).path.rstrip("/")
        for item in tree.iter("{DAV:}response"):
            href = item.findtext("d:href", default="", namespaces=_NS)
            props = _ok_props(item)
            if props is None or urlsplit(urljoin(calendar_url, href)).path.rstrip("/") == base:
                continue
            if props.find("d:resourcetype/d:collection", _NS) is not None:
                continue
            etag = props.findtext("d:getetag", namespaces=_NS)
            if etag:
                found[name_of(href)] = etag
        return found


def _ok_props(item: Any) -> Any | None:
    for propstat in item.findall("d:propstat", _NS):
        status = propstat.findtext("d:status", default="", namespaces=_NS)
        if " 200 " in f"{status} ":
            return propstat.find("d:prop", _NS)
    return None


def _tzid(vtimezone: str | None) -> str | None:
    if not vtimezone:
        return None
    for line in vtimezone.splitlines():
        if line.upper().startswith("TZID:"):
            return line.split(":", 1)[1].strip() or None
    return None


def _names_uid_conflict(response: Any) -> bool:
    raw = response.raw
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
    return any(marker in text for marker in _UID_CONFLICT)
