"""Book-only accounts: which policy actions need full access, and the sentence that says so."""

from __future__ import annotations

from app.db.models import AccessMode, Account
from app.domain.decide import Verdict, fallback_flag

BOOK_ONLY_DECLINE = "declining needs full access; this account is book-only"
BOOK_ONLY_MOVE = "moving the block needs full access; this account is book-only"
DECLINES = ("decline", "decline_after")


def held_back(
    verdict: Verdict, invite_account: Account | None, block_account: Account | None
) -> Verdict:
    """The verdict, or a flag when carrying it out needs full access the account lacks:
    declining on the invite's account, moving the block on the block's account."""
    if verdict.action in DECLINES:
        account, reason = invite_account, BOOK_ONLY_DECLINE
    elif verdict.action == "move_block":
        account, reason = block_account, BOOK_ONLY_MOVE
    else:
        return verdict
    if account is None or account.access_mode != AccessMode.BOOK_ONLY:
        return verdict
    return fallback_flag(verdict, reason)
