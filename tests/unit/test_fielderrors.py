"""Form errors in plain words, next to their field (issue 12, 1)."""

from __future__ import annotations

from app.html.fielderrors import FormErrors, FormFields, plain

FIELDS = FormFields(
    labels={"block_min": "Shortest block", "windows": "Windows"},
    paths={"block_minutes.min": "block_min"},
)


def test_validator_messages_in_plain_words():
    assert plain("Input should be greater than or equal to 15") == "must be at least 15"
    assert (
        plain("Input should be a valid integer, unable to parse string as an integer")
        == "enter a whole number"
    )
    assert plain("Value error, windows overlap") == "windows overlap"
    assert plain("Field required") == "this is required"
    assert plain("something else entirely") == "something else entirely"


def test_problems_find_their_input_by_path_or_prefix():
    errors = FormErrors(
        [
            ("block_minutes.min", "Input should be less than or equal to 720"),
            ("windows.1", "bad range"),
            ("plan", "no calendar"),
        ],
        FIELDS,
    )
    assert [(p.field, p.label, p.message) for p in errors.problems] == [
        ("block_min", "Shortest block", "Must be at most 720."),
        ("windows", "Windows", "Bad range."),
        ("", "", "No calendar."),
    ]
    assert str(errors.attrs("block_min")) == (
        ' aria-invalid="true" aria-describedby="block_min-error"'
    )
    assert str(errors.attrs("windows")).startswith(" aria-invalid")
    assert str(errors.note("block_min")) == (
        '<p class="field-error" id="block_min-error">Must be at most 720.</p>'
    )
    assert str(errors.attrs("other")) == "" and str(errors.note("other")) == ""


def test_notes_escape_what_the_person_typed():
    errors = FormErrors([("windows", "<script>x</script> is not a range")], FIELDS)
    assert "<script>" not in str(errors.note("windows"))
    assert "&lt;script&gt;" in str(errors.note("windows"))


def test_no_errors_is_falsy():
    assert not FormErrors(None)
    assert not FormErrors([])


def test_words_a_person_uses():
    from app.html.words import action_label, condition_text, hours, week_label, weeks_in_words

    assert action_label("flag") == "Tell me"
    assert action_label("decline_after", 4.0) == "Decline after 4 h unless I keep it"
    assert action_label("move_block") == "Move my block"
    assert condition_text("starts_within_hours", 24.0) == "Invite arrives less than 24 h ahead"
    assert condition_text("external", True) == "Organizer is outside my domains"
    assert hours(90) == "1.5" and hours(240) == "4"
    assert week_label("2026-W49") == "Week of 30 Nov"
    assert weeks_in_words("Only 0 of 240 minutes fit in 2026-W49: past") == (
        "Only 0 of 240 minutes fit in the week of 30 Nov: past"
    )
