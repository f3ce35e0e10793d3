"""The one failure-injection API every fake uses (tests/fakes/faults.py)."""

from __future__ import annotations

from tests.fakes.faults import Faults


def test_a_fault_is_used_up_after_n_matching_requests() -> None:
    faults = Faults()
    faults.fail_next(2, status=429, retry_after=90, path="/events")
    assert faults.take("GET", "/calendarList") is None  # another path: untouched
    first = faults.take("GET", "/calendars/a/events")
    assert first is not None and first.status == 429
    assert first.response_headers() == {"Retry-After": "90"}
    assert faults.take("POST", "/calendars/a/events") is not None
    assert faults.take("GET", "/calendars/a/events") is None


def test_method_and_body_narrow_a_fault_and_none_means_every_request() -> None:
    faults = Faults()
    faults.fail_next(None, status=403, method="REPORT", body_has="sync-collection")
    assert faults.take("PROPFIND", "/cal/", b"sync-collection") is None
    assert faults.take("REPORT", "/cal/", b"calendar-query") is None
    for _ in range(3):
        assert faults.take("REPORT", "/cal/", b"<sync-collection/>") is not None
    faults.clear()
    assert faults.take("REPORT", "/cal/", b"<sync-collection/>") is None


def test_faults_apply_in_the_order_they_were_planned() -> None:
    faults = Faults()
    faults.fail_next(status=500)
    faults.fail_next(status=503, headers={"X-Why": "maintenance"})
    answers = [faults.take("GET", "/"), faults.take("GET", "/"), faults.take("GET", "/")]
    assert [a.status if a else None for a in answers] == [500, 503, None]
    assert answers[1] is not None and answers[1].response_headers() == {"X-Why": "maintenance"}
