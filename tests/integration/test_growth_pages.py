"""The signed one-field log page (no sign-in, used once) and the growth forms' error answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import tasks
from app.db.growth_models import LogEntry, Milestone
from app.db.models import Block, Notification, User
from app.db.session import transaction
from app.deps import SESSION_COOKIE
from app.html.forms import FLASH_COOKIE
from app.main import create_app
from app.runtime import Runtime
from app.security import hmac_hex
from app.services.growth import log as growth_log
from app.services.people import websessions
from tests.support.booking import WEEK, berlin, setup_plan
from tests.support.world import FakeClock, MemoryWorld


@pytest.fixture
def ended(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> Iterator[TestClient]:
    """Monday's block has ended and was asked about; an anonymous client."""
    clock.now = berlin(10, 18)
    plan_id = setup_plan(runtime, world, goal_by="2027-06-30")
    tasks.book_plan(plan_id, str(WEEK))
    clock.now = berlin(11, 12)
    secret = runtime.settings.secret_key.get_secret_value()
    with transaction(runtime.sessions) as session:
        growth_log.ask(session, session.scalars(select(User)).one(), clock.now, secret)
    with TestClient(create_app(runtime, scheduler=False)) as client:
        yield client


def prompt_url(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        note = session.scalars(select(Notification).where(Notification.kind == "growth.log")).one()
        return str(note.payload["url"])


def entries(runtime: Runtime) -> list[LogEntry]:
    with runtime.sessions() as session:
        return list(session.scalars(select(LogEntry)))


def test_the_link_logs_once_without_signing_in(ended: TestClient, runtime: Runtime) -> None:
    url = prompt_url(runtime)
    page = ended.get(url)
    assert page.status_code == 200 and "What did you do?" in page.text
    token = parse_qs(urlsplit(url).query)["t"][0]
    path = urlsplit(url).path

    empty = ended.post(path, data={"t": token, "text": "  "})
    assert empty.status_code == 422 and "Write at least a few words." in empty.text
    assert entries(runtime) == []  # and the link is still good

    done = ended.post(path, data={"t": token, "text": "Read the RFC", "outcome": "2 notes"})
    assert done.status_code == 200 and "Logged." in done.text
    again = ended.post(path, data={"t": token, "text": "Again"})
    assert again.status_code == 410 and "already used" in again.text
    assert ended.get(url).status_code == 410
    assert [(e.text, e.outcome) for e in entries(runtime)] == [("Read the RFC", "2 notes")]


def test_a_link_for_another_block_or_forged_is_refused(ended: TestClient, runtime: Runtime) -> None:
    url = prompt_url(runtime)
    token = parse_qs(urlsplit(url).query)["t"][0]
    with runtime.sessions() as session:
        other = session.scalars(select(Block.id).order_by(Block.start.desc())).first()
    assert ended.get(f"/growth/blocks/{other}/log", params={"t": token}).status_code == 410
    forged = ended.post(urlsplit(url).path, data={"t": token + "x", "text": "forged"})
    assert forged.status_code == 410 and "not valid" in forged.text
    assert entries(runtime) == []


def test_forms_answer_bad_input_with_the_field_not_a_500(
    ended: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        cookie = websessions.sign_in(session, user.id, clock.now)
    ended.cookies.set(SESSION_COOKIE, cookie)
    csrf = hmac_hex(f"csrf:{cookie}", runtime.settings.secret_key.get_secret_value())
    bad_date = ended.post(
        "/dashboard/milestones", data={"csrf_token": csrf, "title": "x", "due": "31.02.2027"}
    )
    # The error summary says it as a sentence ("Give a date like 2027-03-01.").
    assert bad_date.status_code == 422 and "give a date like 2027-03-01" in bad_date.text.lower()
    bad_quarter = ended.post(
        "/dashboard/review/answers", data={"csrf_token": csrf, "quarter": "2027-Q9"}
    )
    assert bad_quarter.status_code == 422
    assert "is not a quarter like 2027-q1" in bad_quarter.text.lower()
    no_csrf = ended.post("/dashboard/growth-rules", data={"keyword": "#x"})
    assert no_csrf.status_code == 403
    accepted = ended.post(
        "/dashboard/milestones/accept", data={"csrf_token": csrf}, follow_redirects=False
    )
    twice = ended.post(
        "/dashboard/milestones/accept", data={"csrf_token": csrf}, follow_redirects=False
    )
    # The "done" message rides to the next page in a one-time cookie (not in the address).
    assert "6 milestones added" in unquote(accepted.cookies[FLASH_COOKIE])
    assert "0 milestones added" in unquote(twice.cookies[FLASH_COOKIE])


def test_the_sweep_asks_about_a_block_soon_after_it_ends_and_only_once(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    """No page needs to be opened: the scheduler's sweep puts the question in the list."""
    clock.now = berlin(10, 18)
    plan_id = setup_plan(runtime, world, goal_by="2027-06-30")
    tasks.book_plan(plan_id, str(WEEK))
    assert tasks.ask_growth_log() == 0  # nothing has ended yet

    clock.now = berlin(11, 12)  # Monday's block ended at 11:00
    assert tasks.ask_growth_log() == 1
    assert tasks.ask_growth_log() == 0  # never twice for one block
    assert prompt_url(runtime).startswith("/growth/blocks/")


# --- every growth form shows its problem at its field and keeps what was typed ------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


@dataclass
class _ById(HTMLParser):
    """Every element with an id: its attributes and (for textareas, notes) its text."""

    found: dict[str, Element] = field(default_factory=dict)
    _open: list[Element] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        if element.attrs.get("id"):
            assert element.attrs["id"] not in self.found, f"id {element.attrs['id']} twice"
            self.found[str(element.attrs["id"])] = element
            if tag in {"textarea", "p"}:
                self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1].tag == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text += data


def by_id(html: str) -> dict[str, Element]:
    parser = _ById()
    parser.feed(html)
    return parser.found


def value_of(element: Element) -> str:
    return (
        element.text.removeprefix("\n")
        if element.tag == "textarea"
        else str(element.attrs.get("value"))
    )


def assert_at_field(html: str, input_id: str, message: str) -> dict[str, Element]:
    """The input is marked invalid, points at its note, and the note says `message`."""
    found = by_id(html)
    marked = found[input_id]
    assert marked.attrs.get("aria-invalid") == "true"
    assert marked.attrs.get("aria-describedby") == f"{input_id}-error"
    note = found[f"{input_id}-error"]
    assert note.attrs.get("class") == "field-error" and note.text == message
    # The summary links to the field; no other input of the page is marked.
    assert f'<a href="#{input_id}">' in html
    others = [i for i, e in found.items() if e.attrs.get("aria-invalid") and i != input_id]
    assert others == []
    return found


@pytest.fixture
def signed_in(ended: TestClient, runtime: Runtime, clock: FakeClock) -> tuple[TestClient, str]:
    """The planner's browser, signed in; and the form token of its pages."""
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        cookie = websessions.sign_in(session, user.id, clock.now)
    ended.cookies.set(SESSION_COOKIE, cookie)
    return ended, hmac_hex(f"csrf:{cookie}", runtime.settings.secret_key.get_secret_value())


def milestone_ids(runtime: Runtime) -> list[int]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Milestone.id).order_by(Milestone.due)))


def test_a_new_milestone_s_problem_is_at_its_field(
    signed_in: tuple[TestClient, str], runtime: Runtime
) -> None:
    client, csrf = signed_in
    sent = {"csrf_token": csrf, "title": "Write the RFC", "due": "31.02.2027"}
    bad_date = client.post("/dashboard/milestones", data=sent)
    assert bad_date.status_code == 422
    found = assert_at_field(bad_date.text, "milestone-new-due", "Give a date like 2027-03-01.")
    assert value_of(found["milestone-new-title"]) == "Write the RFC"
    assert value_of(found["milestone-new-due"]) == "31.02.2027"

    no_title = client.post(
        "/dashboard/milestones", data={**sent, "title": " ", "due": "2027-03-01"}
    )
    assert no_title.status_code == 422
    found = assert_at_field(no_title.text, "milestone-new-title", "Write at least a few words.")
    assert value_of(found["milestone-new-due"]) == "2027-03-01"
    assert milestone_ids(runtime) == []


def test_a_milestone_s_edit_problem_is_at_its_row(
    signed_in: tuple[TestClient, str], runtime: Runtime
) -> None:
    client, csrf = signed_in
    client.post("/dashboard/milestones/accept", data={"csrf_token": csrf})
    first, second, *_ = milestone_ids(runtime)
    sent = {"csrf_token": csrf, "title": "x" * 201, "due": "2027-02-01", "done": "on"}
    answer = client.post(f"/dashboard/milestones/{second}", data=sent)
    assert answer.status_code == 422
    found = assert_at_field(answer.text, f"milestone-{second}-title", "Use at most 200 characters.")
    assert value_of(found[f"milestone-{second}-title"]) == "x" * 201
    assert value_of(found[f"milestone-{second}-due"]) == "2027-02-01"
    assert "checked" in found[f"milestone-{second}-done"].attrs
    # The other rows show what is stored, the add form stays empty.
    assert "checked" not in found[f"milestone-{first}-done"].attrs
    assert value_of(found["milestone-new-title"]) == ""
    with runtime.sessions() as session:
        assert session.get_one(Milestone, second).done_on is None


def test_the_link_page_s_problem_is_at_its_field(ended: TestClient, runtime: Runtime) -> None:
    url = prompt_url(runtime)
    token = parse_qs(urlsplit(url).query)["t"][0]
    sent = {"t": token, "text": "x" * 301, "outcome": "2 notes"}
    answer = ended.post(urlsplit(url).path, data=sent)
    assert answer.status_code == 422
    found = assert_at_field(answer.text, "log-text", "Use at most 300 characters.")
    assert value_of(found["log-text"]) == "x" * 301
    assert value_of(found["log-outcome"]) == "2 notes"
    assert "<details open>" in answer.text  # the outcome typed is in view
    assert entries(runtime) == []


def test_a_log_entry_s_problem_is_at_its_field(
    signed_in: tuple[TestClient, str], runtime: Runtime
) -> None:
    client, csrf = signed_in
    url = prompt_url(runtime)
    token = parse_qs(urlsplit(url).query)["t"][0]
    client.post(urlsplit(url).path, data={"t": token, "text": "Read the RFC"})
    (entry,) = entries(runtime)
    sent = {"csrf_token": csrf, "text": "Read the RFC twice", "outcome": "3 notes"}
    answer = client.post(f"/dashboard/growth-log/{entry.id}", data={**sent, "milestone_id": "9x"})
    assert answer.status_code == 422
    key = f"entry-{entry.id}"
    found = assert_at_field(answer.text, f"{key}-milestone", "Choose one from the list.")
    assert value_of(found[f"{key}-text"]) == "Read the RFC twice"
    assert value_of(found[f"{key}-outcome"]) == "3 notes"
    no_text = client.post(f"/dashboard/growth-log/{entry.id}", data={**sent, "text": ""})
    assert no_text.status_code == 422
    found = assert_at_field(no_text.text, f"{key}-text", "Write at least a few words.")
    assert value_of(found[f"{key}-outcome"]) == "3 notes"
    assert [(e.text, e.outcome) for e in entries(runtime)] == [("Read the RFC", "")]


def test_a_counting_rule_s_problem_is_at_its_field(signed_in: tuple[TestClient, str]) -> None:
    client, csrf = signed_in
    organizers = "\n".join(f"coach{n}@corp.example" for n in range(51))
    sent = {"csrf_token": csrf, "keyword": "#learn", "organizers": organizers}
    answer = client.post("/dashboard/growth-rules", data={**sent, "title_words": "rfc\nreading"})
    assert answer.status_code == 422
    found = assert_at_field(
        answer.text, "rule-organizers", "Use at most 50 lines, each at most 320 characters."
    )
    assert value_of(found["rule-keyword"]) == "#learn"
    assert value_of(found["rule-organizers"]) == organizers
    assert value_of(found["rule-words"]) == "rfc\nreading"
    long_tag = client.post("/dashboard/growth-rules", data={**sent, "keyword": "#" * 51})
    assert long_tag.status_code == 422
    assert_at_field(long_tag.text, "rule-keyword", "Use at most 50 characters.")


def test_a_review_answer_s_problem_is_at_its_field(signed_in: tuple[TestClient, str]) -> None:
    client, csrf = signed_in
    sent = {"csrf_token": csrf, "quarter": "2026-Q4", "worked": "Mornings", "drained": "x" * 4001}
    answer = client.post("/dashboard/review/answers", data=sent)
    assert answer.status_code == 422
    found = assert_at_field(answer.text, "answer-drained", "Use at most 4000 characters.")
    assert value_of(found["answer-worked"]) == "Mornings"
    assert value_of(found["answer-drained"]) == "x" * 4001
    # Still the quarter the answers were written for, not the current one.
    assert "<h1>Quarterly review 2026-Q4</h1>" in answer.text
    kept = client.get("/dashboard/review", params={"quarter": "2026-Q4"})
    assert value_of(by_id(kept.text)["answer-worked"]) == ""  # nothing was saved


def test_the_goal_form_s_problem_is_at_its_field(signed_in: tuple[TestClient, str]) -> None:
    client, csrf = signed_in
    sent = {"csrf_token": csrf, "goal": "Lead two projects", "goal_by": "2027-09-30"}
    bad_target = client.post(
        "/dashboard/review/goal", data={**sent, "weekly_target_minutes": "two hours"}
    )
    assert bad_target.status_code == 422
    found = assert_at_field(bad_target.text, "adjust-target", "Enter a whole number of minutes.")
    assert value_of(found["adjust-goal"]) == "Lead two projects"
    assert value_of(found["adjust-by"]) == "2027-09-30"
    assert value_of(found["adjust-target"]) == "two hours"
    too_small = client.post("/dashboard/review/goal", data={**sent, "weekly_target_minutes": "5"})
    assert too_small.status_code == 422
    assert_at_field(too_small.text, "adjust-target", "Must be at least 15.")
    bad_date = client.post("/dashboard/review/goal", data={**sent, "goal_by": "next spring"})
    assert bad_date.status_code == 422
    found = assert_at_field(bad_date.text, "adjust-by", "Give a date like 2027-03-01.")
    assert value_of(found["adjust-by"]) == "next spring"
    no_goal = client.post("/dashboard/review/goal", data={**sent, "goal": ""})
    assert no_goal.status_code == 422
    assert_at_field(no_goal.text, "adjust-goal", "Write at least a few words.")
    shown = by_id(client.get("/dashboard/review").text)
    assert value_of(shown["adjust-goal"]) == "Lead a project"  # nothing was saved
