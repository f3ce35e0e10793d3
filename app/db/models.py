"""SQLAlchemy models. The schema itself is built by the Alembic migrations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base as Base  # re-exported: its metadata here has every table
from app.db.base import utc_now


class AccountStatus(StrEnum):
    OK = "ok"
    NEEDS_REAUTH = "needs_reauth"
    ERROR = "error"
    DISCONNECTED = "disconnected"  # the person disconnected it; credentials are deleted


class AccessMode(StrEnum):
    FULL = "full"  # read, book, and answer invites (decline) and move blocks
    BOOK_ONLY = "book_only"  # narrowest scopes: book own blocks, read busy time; policy only flags


class BlockState(StrEnum):
    BOOKED = "booked"  # on the calendar, as far as we last saw
    LOST = "lost"  # the person deleted or declined it; never re-created that week


class NotificationStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # {"mon": ["09:00-17:00"], ...}; weekdays missing from the map are days off.
    working_hours: Mapped[dict[str, Any]]
    # Argon2id hash for local (CalDAV-only) sign-in; None for people who sign in with a provider.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # When the person proved they read this address (a confirmation link, or a provider that
    # says so). Only proven addresses are ever linked by email (app/services/people/identity.py).
    email_verified_at: Mapped[datetime | None]
    # Public holidays of this region count as days off (app/domain/days_off.py): an ISO 3166
    # country code and optional subdivision as the `holidays` package names them; None: none.
    holiday_country: Mapped[str | None] = mapped_column(String(3))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    plans: Mapped[list[Plan]] = relationship(back_populates="user", lazy="raise")
    accounts: Mapped[list[Account]] = relationship(back_populates="user", lazy="raise")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the token: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("user_id", "provider", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(320))
    # The provider's stable id of the person (Google `sub`, Microsoft `tid:oid`, a CalDAV
    # principal URL): never an email.
    provider_account_id: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[AccountStatus] = mapped_column(String(32), default=AccountStatus.OK)
    status_detail: Mapped[str] = mapped_column(Text, default="")
    # Fernet ciphertext; the keys live in settings, never in the database.
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The local demo calendar (development): polled often, offers a sample invite.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Chosen when connecting: which scopes were asked for, and so what the policy may do.
    access_mode: Mapped[AccessMode] = mapped_column(
        String(16), default=AccessMode.FULL, server_default=AccessMode.FULL.value
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    user: Mapped[User] = relationship(back_populates="accounts", lazy="raise")
    calendars: Mapped[list[Calendar]] = relationship(back_populates="account", lazy="raise")


class Calendar(Base):
    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("account_id", "provider_calendar_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    provider_calendar_id: Mapped[str] = mapped_column(String(512))
    name: Mapped[str] = mapped_column(String(320), default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    is_busy_source: Mapped[bool] = mapped_column(Boolean, default=True)
    is_target: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str | None] = mapped_column(String(64))
    sync_cursor: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None]
    # The last failed sync, in words for the person (cleared by the next successful sync).
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    focus_time_unsupported: Mapped[bool] = mapped_column(Boolean, default=False)
    # Push channel (Google) or subscription (Graph). The secret is kept as a SHA-256 hash.
    watch_id: Mapped[str | None] = mapped_column(String(256), unique=True)
    watch_resource_id: Mapped[str | None] = mapped_column(String(256))
    watch_secret_hash: Mapped[str | None] = mapped_column(String(64))
    watch_expires_at: Mapped[datetime | None]
    # Highest message number the provider sent on the channel (Google numbers them): anything
    # not above it is a repeat. Replaces a receipt row per notification.
    watch_message_number: Mapped[int | None] = mapped_column(BigInteger)
    # Set when the provider says the calendar no longer exists; sync skips it from then on.
    gone_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship(back_populates="calendars", lazy="raise")


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    goal: Mapped[str] = mapped_column(String(200))
    # The validated PlanSpec document (DESIGN §5), as JSON.
    spec: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    user: Mapped[User] = relationship(back_populates="plans", lazy="raise")


class Block(Base):
    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("plan_id", "week", "ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(String(8))
    ordinal: Mapped[int] = mapped_column(Integer)
    slot_key: Mapped[str] = mapped_column(String(64), unique=True)
    provider_event_id: Mapped[str | None] = mapped_column(String(1024))
    start: Mapped[datetime]
    end: Mapped[datetime]
    state: Mapped[BlockState] = mapped_column(String(16), default=BlockState.BOOKED)
    # The plan's defense level when booked (flexible, firm, locked) and whether the provider
    # event is written busy (a flexible block is free until its threshold).
    level: Mapped[str] = mapped_column(String(16), default="firm", server_default="firm")
    busy: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The person pinned it here ("keep it here" or chosen slots): booking never moves it.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class ChosenWeek(Base):
    """A week whose slots the person chose: booking books exactly the pinned blocks there."""

    __tablename__ = "chosen_weeks"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    chosen_at: Mapped[datetime] = mapped_column(default=utc_now)


class BookingRun(Base):
    """The outcome of the last booking run of one plan and week (what the week view explains)."""

    __tablename__ = "booking_runs"
    __table_args__ = (UniqueConstraint("plan_id", "week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(String(8))
    ran_at: Mapped[datetime]
    # "booked" (target met), "short" (target missed: reason), "no_target", "blocked" (reason)
    outcome: Mapped[str] = mapped_column(String(16))
    booked_minutes: Mapped[int] = mapped_column(Integer, default=0)
    target_minutes: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")


class Notification(Base):
    """Outbox: written in the same transaction as the change it reports."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    # Same key, same notification: re-running a task never notifies twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]]
    status: Mapped[NotificationStatus] = mapped_column(
        String(16), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    read_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One row per write GrowthGuard makes to somebody's calendar."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    provider_event_id: Mapped[str | None] = mapped_column(String(1024))
    slot_key: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]]
    at: Mapped[datetime] = mapped_column(default=utc_now)


class CalendarEvent(Base):
    """The last synced state of an event on a busy-source calendar (a cache, not a source)."""

    __tablename__ = "calendar_events"
    __table_args__ = (UniqueConstraint("calendar_id", "provider_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("calendars.id", ondelete="CASCADE"), index=True
    )
    provider_event_id: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[datetime]
    end: Mapped[datetime]
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    busy: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str] = mapped_column(String(32))
    organizer_email: Mapped[str | None] = mapped_column(String(320))
    self_is_organizer: Mapped[bool] = mapped_column(Boolean, default=False)
    self_response: Mapped[str | None] = mapped_column(String(16))
    attendee_count: Mapped[int] = mapped_column(Integer, default=0)
    series_id: Mapped[str | None] = mapped_column(String(1024))
    tag_plan_id: Mapped[str | None] = mapped_column(String(64))
    tag_slot_key: Mapped[str | None] = mapped_column(String(64))
    updated: Mapped[datetime | None]
    synced_at: Mapped[datetime] = mapped_column(default=utc_now)


class OAuthState(Base):
    """A pending authorization: one-time, bound to a browser session, expiring."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    browser_hash: Mapped[str] = mapped_column(String(64))
    # Encrypted: the PKCE verifier (Google) or the MSAL flow dict (Microsoft).
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie holds a random id; only its hash is stored."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]


class WebhookReceipt(Base):
    """Provider notifications already accepted (deduplication)."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (UniqueConstraint("provider", "channel_id", "message_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(256))
    message_key: Mapped[str] = mapped_column(String(256))
    received_at: Mapped[datetime] = mapped_column(default=utc_now)


class Policy(Base):
    """A plan's boundary policy (DESIGN §7): the validated PolicySpec document."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str] = mapped_column(String(100))
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class ConflictState(StrEnum):
    OPEN = "open"  # detected, not decided yet
    DECIDED = "decided"  # a decision was made (and carried out, unless pending)
    OVERRIDDEN = "overridden"  # the person chose to keep the meeting
    GONE = "gone"  # the invite was cancelled or moved off the block before anything happened


class Conflict(Base):
    """An invite that overlaps a growth block; decided at most once."""

    __tablename__ = "conflicts"
    __table_args__ = (UniqueConstraint("block_id", "calendar_id", "provider_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    block_id: Mapped[int] = mapped_column(ForeignKey("blocks.id", ondelete="CASCADE"))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    provider_event_id: Mapped[str] = mapped_column(String(1024))
    # What the invite looked like when it was detected (for the explanation and the reports).
    event: Mapped[dict[str, Any]]
    state: Mapped[ConflictState] = mapped_column(String(16), default=ConflictState.OPEN)
    detected_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The block's defense when the invite landed: "flexible" (still free), "firm", "locked".
    block_level: Mapped[str] = mapped_column(String(16), default="firm", server_default="firm")


class Decision(Base):
    """What the policy decided for a conflict, why, and what was done about it."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conflict_id: Mapped[int] = mapped_column(
        ForeignKey("conflicts.id", ondelete="CASCADE"), unique=True
    )
    action: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(200))
    explanation: Mapped[str] = mapped_column(Text)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # pending (decline_after waiting), done, failed, skipped (dry run / overridden)
    outcome: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any]]
    decided_at: Mapped[datetime] = mapped_column(default=utc_now)
    executed_at: Mapped[datetime | None]


class NotificationChannel(Base):
    """Where a person's notifications go besides the in-app list."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # email | slack | webhook
    # What the person recognises the channel by (an address, or a URL's scheme and host);
    # the full target (a Slack URL is a credential) is only in `target_secret`, encrypted.
    target: Mapped[str] = mapped_column(String(2048))
    target_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Encrypted HMAC key of generic webhooks (shown once when the channel is created).
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class NotificationDelivery(Base):
    """One notification to one channel: retried with backoff until delivered or given up."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("notification_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None]


class Identity(Base):
    """A person at a provider, by the provider's stable subject (never by email)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    # Google `sub`; Microsoft "<oid>.<tid>" from the id token.
    subject: Mapped[str] = mapped_column(String(320))
    email: Mapped[str] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class UsedLink(Base):
    """A single-use signed link that was used (one-click choices, email confirmations)."""

    __tablename__ = "used_links"

    link_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[datetime]
    expires_at: Mapped[datetime]


# Registers the growth, report and days-off tables on Base.metadata whenever models are loaded.
import app.db.daysoff_models  # noqa: E402
import app.db.growth_models  # noqa: E402
import app.db.quiet_models  # noqa: E402
import app.db.reports_models  # noqa: E402, F401


class BookingJobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"  # a provider was down or throttling; `next_attempt_at` says when
    DONE = "done"
    BLOCKED = "blocked"  # cannot proceed safely until the person acts (e.g. reconnect)
    FAILED = "failed"  # gave up after the retries


class BookingJob(Base):
    """One booking request (on demand or weekly) and its progress, for `/plans/{id}/bookings`.

    (`BookingRun` is the outcome per plan and week that the week view explains.)"""

    __tablename__ = "booking_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    weeks: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    finished_at: Mapped[datetime | None]


class WeeklyClaim(Base):
    """The weekly booking of one plan for one week was started (exactly once, whichever
    scheduler replica fired it, and however often its job fired)."""

    __tablename__ = "weekly_claims"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[str] = mapped_column(String(8), primary_key=True)  # ISO week, e.g. 2027-W03
    claimed_at: Mapped[datetime] = mapped_column(default=utc_now)
