"""The `growthguard` command line."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import yaml
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.domain.intervals import Interval
from app.domain.plan import DEFAULT_WORKING_HOURS, PlanSpec, plan_problems
from app.domain.planner import plan_week
from app.domain.time import IsoWeek, resolve_zone

PROG = "growthguard"


class CliError(Exception):
    """A problem the person can fix; printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except CliError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="GrowthGuard: protect growth time.")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="show the blocks a plan would book in a week")
    plan.add_argument("--events", required=True, type=Path, help="busy events, iCalendar file")
    plan.add_argument("--plan", required=True, type=Path, help="the plan, YAML or JSON")
    plan.add_argument("--week", required=True, help="ISO week, e.g. 2027-W03")
    plan.add_argument("--now", help="ISO 8601 with offset; default: the start of that week")
    plan.add_argument("--format", choices=["json", "text"], default="json")
    plan.set_defaults(handler=_cmd_plan)

    serve = sub.add_parser(
        "serve",
        help="run GrowthGuard: everything in one process (all), or one role of the scaled mode",
    )
    serve.add_argument("--host", help="address to listen on (default: GG_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: GG_PORT, 8000)")
    serve.add_argument(
        "--role",
        choices=["all", "web", "worker", "scheduler"],
        default="all",
        help="all: web + in-process tasks + scheduler (default); web: API and pages, tasks "
        "to the queue; worker: run queued tasks; scheduler: stand for scheduler leader",
    )
    serve.add_argument("--concurrency", type=int, help="worker: tasks at once (threads)")
    serve.set_defaults(handler=_cmd_serve)

    book = sub.add_parser("book", help="book one week for every active plan, in batches")
    book.add_argument("--week", required=True, help="ISO week, e.g. 2027-W03")
    book.add_argument("--chunk", type=int, default=100, help="plans per transaction (100)")
    book.set_defaults(handler=_cmd_book)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=_cmd_migrate)

    users = sub.add_parser("users", help="manage local accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    set_password = users_sub.add_parser(
        "set-password",
        help="give an account a password for the dashboard (e.g. one made with POST /users)",
    )
    set_password.add_argument("email", help="the account's email address")
    set_password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )
    set_password.set_defaults(handler=_cmd_set_password)

    keygen = sub.add_parser("keygen", help="print a new encryption key for GG_ENCRYPTION_KEYS")
    keygen.set_defaults(handler=lambda _: _print(Fernet.generate_key().decode()))

    init_env = sub.add_parser("init-env", help="write .env with fresh secrets if it is missing")
    init_env.add_argument(
        "--path", type=Path, default=Path(".env"), help="the file to write (default: .env)"
    )
    init_env.add_argument(
        "--example",
        type=Path,
        default=Path(".env.example"),
        help="the template to copy (default: .env.example)",
    )
    init_env.set_defaults(handler=_cmd_init_env)
    return parser


def _print(text: str) -> int:
    print(text)
    return 0


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _cmd_plan(args: argparse.Namespace) -> int:
    from app.ics import IcsError, busy_between, parse_calendar  # heavy imports only when needed

    spec = _read_plan(args.plan)
    try:
        week = IsoWeek.parse(args.week)
    except ValueError as error:
        _fail(f"--week: {error}")
    zone = resolve_zone(spec.timezone or "UTC")
    working_hours = spec.working_ranges(DEFAULT_WORKING_HOURS)
    problems = plan_problems(spec, working_hours)
    if problems:
        _fail(f"plan file {args.plan}: " + "; ".join(f"{f}: {m}" for f, m in problems))
    now = _parse_now(args.now) if args.now else week.start(zone)
    try:
        data = args.events.read_bytes()
    except OSError as error:
        _fail(f"events file {args.events}: {error.strerror or error}")
    margin = timedelta(minutes=spec.buffer_minutes)
    try:
        calendar = parse_calendar(data)
        busy = busy_between(calendar, week.start(zone) - margin, week.end(zone) + margin, zone)
    except IcsError as error:
        _fail(f"events file {args.events}: {error}")
    result = plan_week(spec, week, busy, now, zone=zone, working_hours=working_hours)
    report: dict[str, Any] = {
        "blocks": [_slot(block, zone) for block in result.new_blocks],
        "target_minutes": result.target_minutes,
        "booked_minutes": result.booked_minutes,
        "shortfall_reason": result.shortfall_reason,
    }
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"{week} in {zone.key}: {result.booked_minutes} of {result.target_minutes} minutes")
        for block in report["blocks"]:
            print(f"  {block['start']} -> {block['end']}")
        if result.shortfall_reason:
            print(f"  {result.shortfall_reason}")
    return 0


def _slot(block: Interval, zone: Any) -> dict[str, str]:
    return {
        "start": block.start.astimezone(zone).isoformat(),
        "end": block.end.astimezone(zone).isoformat(),
    }


def _read_plan(path: Path) -> PlanSpec:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        _fail(f"plan file {path}: {error.strerror or error}")
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        _fail(f"plan file {path}: not valid YAML or JSON{where}")
    if not isinstance(document, dict):
        _fail(f"plan file {path}: expected a mapping of plan fields at the top level")
    try:
        return PlanSpec.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "plan"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        _fail(f"plan file {path}: {field}: {first['msg']}{more}")


def _parse_now(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--now: {text!r} is not an ISO 8601 date-time")
    if moment.tzinfo is None:
        _fail(f"--now: {text!r} needs a UTC offset, e.g. 2027-01-18T09:00:00+01:00")
    return moment


def _settings_or_fail() -> Any:
    from app.config import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as error:
        _fail(f"invalid settings: {error}")


def _cmd_migrate(_: argparse.Namespace) -> int:
    from app.db.migrate import upgrade
    from app.db.session import make_engine, make_session_factory, transaction
    from app.security import CredentialCipher
    from app.services.notifications.channels import encrypt_plaintext_targets

    settings = _settings_or_fail()
    engine = make_engine(settings.database_url)
    before = _schema_revision(engine)
    upgrade(settings.database_url)
    after = _schema_revision(engine)
    with transaction(make_session_factory(engine)) as session:
        encrypt_plaintext_targets(session, CredentialCipher(settings.encryption_keys))
    engine.dispose()
    if before is None:
        print(f"created the database schema (revision {after})")
    elif before != after:
        print(f"upgraded the database schema from revision {before} to {after}")
    else:
        print(f"database is up to date (revision {after})")
    return 0


def _schema_revision(engine: Any) -> str | None:
    """The Alembic revision the database is at; None for a new (empty) database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    return None if revision is None else str(revision)


def _cmd_set_password(args: argparse.Namespace) -> int:
    import getpass

    from sqlalchemy import select

    from app.db.models import User
    from app.db.session import make_engine, make_session_factory, transaction
    from app.services.errors import InvalidInputError
    from app.services.people import passwords

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("New password (at least 12 characters): ")
        if getpass.getpass("Once more: ") != password:
            _fail("the two passwords differ; nothing was changed")
    settings = _settings_or_fail()
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            email = args.email.strip().lower()
            user = session.scalars(select(User).where(User.email == email)).first()
            if user is None:
                _fail(f"no account with the email {email}")
            try:
                passwords.set_password(user, password)
            except InvalidInputError as error:
                _fail("; ".join(f"password: {message}" for _, message in error.problems))
    finally:
        engine.dispose()
    print(f"password set for {email}; sign in to the dashboard with it")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from app import runtime as runtime_module
    from app.db.models import Plan
    from app.domain.time import IsoWeek
    from app.runtime import build_runtime
    from app.services.booking.batch import book_plans

    try:
        week = IsoWeek.parse(args.week)
    except ValueError as error:
        _fail(f"--week: {error}")
    if args.chunk < 1:
        _fail("--chunk must be at least 1")
    rt = build_runtime(_settings_or_fail())
    runtime_module.install(rt)
    try:
        with rt.sessions() as session:
            ids = list(session.scalars(select(Plan.id).where(Plan.active.is_(True))))
        outcome = book_plans(rt.sessions, ids, week, rt.clock(), rt.connectors, chunk=args.chunk)
    finally:
        runtime_module.install(None)
        rt.engine.dispose()
    print(
        json.dumps(
            {
                "week": str(week),
                "plans": len(ids),
                "booked": len(outcome.reports),
                "blocks_created": sum(len(r.created) for r in outcome.reports),
                # a provider failed: the plan's own weekly run (or POST /plans/{id}/book) retries
                "failed": {str(k): f"{type(v).__name__}: {v}" for k, v in outcome.failed.items()},
                "blocked": {str(k): v for k, v in outcome.blocked.items()},
            },
            indent=2,
        )
    )
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from app.roles import Role, run_scheduler, run_worker, setup_logging

    settings = _settings_or_fail()
    setup_logging(settings)
    role = Role(args.role)
    if role is Role.WORKER:
        run_worker(settings, concurrency=args.concurrency)
        return 0
    if role is Role.SCHEDULER:
        run_scheduler(settings)
        return 0

    import uvicorn

    from app.main import create_app

    port = args.port or settings.port
    warning = public_url_warning(settings.public_url, port)
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    uvicorn.run(
        create_app(scaled=role is Role.WEB),
        host=args.host or settings.host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through our handler, so they are redacted too
    )
    return 0


def public_url_warning(public_url: str, port: int) -> str | None:
    """Why links and OAuth redirects would miss this server: GG_PUBLIC_URL on a loopback
    address with another port than the one it listens on (behind a proxy the ports differ
    on purpose, so only loopback addresses are checked)."""
    from urllib.parse import urlsplit

    parts = urlsplit(public_url)
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        return None
    shown = parts.port or (443 if parts.scheme == "https" else 80)
    if shown == port:
        return None
    return (
        f"GG_PUBLIC_URL is {public_url} but the server listens on port {port}: sign-in links "
        f"and OAuth redirects will point at port {shown}. Set GG_PUBLIC_URL to "
        f"{parts.scheme}://{parts.hostname}:{port}."
    )


def _cmd_init_env(args: argparse.Namespace) -> int:
    from app.config import PLACEHOLDER_FERNET_KEY, PLACEHOLDER_SECRET

    if args.path.exists():
        print(f"{args.path} exists; leaving it alone")
        return 0
    try:
        text = args.example.read_text(encoding="utf-8")
    except OSError as error:
        _fail(f"{args.example}: {error.strerror or error}")
    text = text.replace(PLACEHOLDER_FERNET_KEY, Fernet.generate_key().decode())
    text = text.replace(PLACEHOLDER_SECRET, secrets.token_urlsafe(48))
    args.path.write_text(text, encoding="utf-8")
    args.path.chmod(0o600)
    print(f"wrote {args.path} with fresh secrets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
