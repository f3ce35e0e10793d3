"""The planner CLI: iCalendar in, JSON out, one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

DATA = Path(__file__).parent.parent / "data"
EVENTS = DATA / "week.ics"
PLAN = DATA / "plan.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_plans_a_week_around_recurring_and_all_day_events(capsys):
    code, out, _ = run(
        capsys,
        "plan",
        "--events",
        str(EVENTS),
        "--plan",
        str(PLAN),
        "--week",
        "2027-W03",
        "--format",
        "json",
    )
    assert code == 0
    report = json.loads(out)
    # The 09:30 standup (+10 min buffer) pushes blocks to the next quarter hour, 10:00;
    # Tuesday is an offsite; the transparent reminder on Wednesday does not count.
    assert report["blocks"] == [
        {"start": "2027-01-18T10:00:00+01:00", "end": "2027-01-18T12:00:00+01:00"},
        {"start": "2027-01-20T10:00:00+01:00", "end": "2027-01-20T12:00:00+01:00"},
    ]
    assert (report["target_minutes"], report["booked_minutes"], report["shortfall_reason"]) == (
        240,
        240,
        None,
    )


def test_now_defaults_to_the_week_start_and_can_be_moved(capsys):
    code, out, _ = run(
        capsys,
        "plan",
        "--events",
        str(EVENTS),
        "--plan",
        str(PLAN),
        "--week",
        "2027-W03",
        "--now",
        "2027-01-22T10:00:00+01:00",
    )
    assert code == 0
    report = json.loads(out)
    assert report["blocks"] == [
        {"start": "2027-01-22T10:00:00+01:00", "end": "2027-01-22T12:00:00+01:00"}
    ]
    assert report["booked_minutes"] == 120
    assert "120 of 240" in report["shortfall_reason"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--events", "missing.ics"], "events file missing.ics"),
        (["--week", "2027-W99"], "--week"),
        (["--now", "2027-01-18T09:00"], "--now"),
        (["--plan", str(DATA / "week.ics")], "plan file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, args: list[str], fragment: str):
    base = {"--events": str(EVENTS), "--plan": str(PLAN), "--week": "2027-W03"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["plan"] + [part for pair in base.items() for part in pair]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and fragment in err


def test_invalid_plan_field_is_named(tmp_path: Path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("goal: x\nblock_minutes: {min: 120, max: 60}\n")
    code, _, err = run(
        capsys, "plan", "--events", str(EVENTS), "--plan", str(plan), "--week", "2027-W03"
    )
    assert code == 2 and "block_minutes" in err


def test_block_longer_than_every_window(tmp_path: Path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text('goal: x\nwindows: ["09:00-10:00"]\n')
    code, _, err = run(
        capsys, "plan", "--events", str(EVENTS), "--plan", str(plan), "--week", "2027-W03"
    )
    assert code == 2 and "block_minutes" in err and "does not fit" in err


def test_garbage_ics(tmp_path: Path, capsys):
    events = tmp_path / "bad.ics"
    events.write_text("this is not a calendar")
    code, _, err = run(
        capsys, "plan", "--events", str(events), "--plan", str(PLAN), "--week", "2027-W03"
    )
    assert code == 2 and "events file" in err


def test_the_installed_console_script_runs():
    script = Path(sys.executable).with_name("growthguard")
    result = subprocess.run(
        [str(script), "plan", "--events", str(EVENTS), "--plan", str(PLAN), "--week", "2027-W03"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["blocks"]) == 2
