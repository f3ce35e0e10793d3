"""Shared path-parameter types."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

# Primary keys are 32-bit on PostgreSQL (SERIAL) and the drivers overflow far below what a URL
# can hold, so a larger number cannot name any row: it is answered 404, like any unknown id.
MAX_ROW_ID = 2**31 - 1


def _row_id(value: int) -> int:
    if not 1 <= value <= MAX_ROW_ID:
        raise PydanticCustomError("row_id_out_of_range", "no such id")
    return value


RowId = Annotated[int, AfterValidator(_row_id)]
"""An object id in a path: out of range means "not found" (404), never a database error."""
