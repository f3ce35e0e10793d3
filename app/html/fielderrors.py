"""Form errors shown next to their field, in plain words (the one mechanism for every form).

Services report problems as `(field path, message)` pairs, e.g. `("block_minutes.min",
"Input should be greater than or equal to 15")`. A page declares its form's fields (input id
→ label) and how service paths map onto them; `FormErrors` then gives each input its
`aria-invalid`/`aria-describedby` attributes and the note below it, and the summary at the top
lists every problem with a link to its field. Problems that belong to no field stay in the
summary only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from markupsafe import Markup, escape

# Pydantic's messages, as a person would say them: (prefix, replacement; "{}" is the rest).
_REWRITES: tuple[tuple[str, str], ...] = (
    ("Value error, ", "{}"),
    ("Assertion failed, ", "{}"),
    ("Input should be greater than or equal to ", "must be at least {}"),
    ("Input should be less than or equal to ", "must be at most {}"),
    ("Input should be greater than ", "must be more than {}"),
    ("Input should be less than ", "must be less than {}"),
    ("Input should be a valid integer", "enter a whole number"),
    ("Input should be a valid number", "enter a number"),
    ("Input should be a valid boolean", "answer yes or no"),
    ("Input should be a valid date", "enter a date such as 2027-01-31"),
    ("Input should be a valid string", "enter text"),
    ("Input should be a valid list", "enter a list"),
    ("Input should be a valid dictionary", "enter a mapping (key: value lines)"),
    ("Input should be ", "choose {}"),
    ("String should have at most ", "use at most {}"),
    ("String should have at least 1 character", "this is required"),
    ("String should have at least ", "use at least {}"),
    ("List should have at most ", "use at most {}"),
    ("Field required", "this is required"),
    ("Extra inputs are not permitted", "is not a setting GrowthGuard knows"),
)


def plain(message: str) -> str:
    """A validator's message in plain words (unknown messages pass unchanged)."""
    for prefix, replacement in _REWRITES:
        if message.startswith(prefix):
            rest = message[len(prefix) :]
            if "{}" not in replacement:
                return replacement
            return replacement.replace("{}", rest.split(" [", 1)[0])
    return message


@dataclass(frozen=True)
class Problem:
    """One problem: the input it belongs to ("" for the form as a whole) and plain words."""

    field: str
    label: str
    message: str

    @property
    def note_id(self) -> str:
        return f"{self.field}-error"


@dataclass(frozen=True)
class FormFields:
    """A form's inputs (id → label, in page order) and service paths that name them."""

    labels: Mapping[str, str]
    paths: Mapping[str, str] = field(default_factory=dict)

    def input_for(self, path: str) -> str:
        """The input a service path belongs to: its longest known prefix, else ""."""
        parts = path.split(".")
        while parts:
            candidate = ".".join(parts)
            if candidate in self.paths:
                return self.paths[candidate]
            if candidate in self.labels:
                return candidate
            parts.pop()
        return ""


NO_FIELDS = FormFields(labels={})


class FormErrors:
    """What a template needs to show problems: per-field attributes and notes, a summary."""

    def __init__(
        self, errors: Iterable[tuple[str, str]] | None, fields: FormFields = NO_FIELDS
    ) -> None:
        self.problems: list[Problem] = []
        for path, message in errors or ():
            input_id = fields.input_for(path)
            label = fields.labels.get(input_id, "") if input_id else ""
            self.problems.append(Problem(input_id, label, _sentence(plain(message))))
        self._by_field: dict[str, list[Problem]] = {}
        for problem in self.problems:
            if problem.field:
                self._by_field.setdefault(problem.field, []).append(problem)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def has(self, input_id: str) -> bool:
        return input_id in self._by_field

    def attrs(self, input_id: str) -> Markup:
        """`aria-invalid` and `aria-describedby` for an input with a problem, else nothing."""
        if input_id not in self._by_field:
            return Markup("")
        return Markup(' aria-invalid="true" aria-describedby="{}"').format(f"{input_id}-error")

    def note(self, input_id: str) -> Markup:
        """The problem(s) of one input, shown right below it."""
        problems = self._by_field.get(input_id)
        if not problems:
            return Markup("")
        text = " ".join(str(escape(p.message)) for p in problems)
        return Markup('<p class="field-error" id="{}">{}</p>').format(
            f"{input_id}-error", Markup(text)
        )


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return "Something is wrong here."
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."
