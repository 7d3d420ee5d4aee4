"""Errors of the persistent log."""

from __future__ import annotations

from typing import Any

from ledger.errors import InvalidInputError, LedgerError


class DuplicateEntryError(InvalidInputError):
    """An entry id is already in the log (or twice in one batch)."""

    code = "duplicate_entry"


class TreeSizeError(InvalidInputError):
    """A proof or root was asked for a tree size the log has not integrated."""

    code = "tree_size_out_of_range"


class LogCorruptionError(LedgerError):
    """What the database holds contradicts itself: a gap, a missing tile, a wrong hash.

    Never caused by the caller. The evidence says what was found where.
    """

    code = "log_corrupt"


class CheckpointVerificationError(LogCorruptionError):
    """Refused to sign: a stored hash disagrees with the stored leaves.

    ``expected_root`` is the root the stored data commits to (through the wrong
    tile hash, the leaf data, or the last checkpoint, as ``source`` says);
    ``computed_root`` is recomputed from the stored leaf hashes, both at
    ``tree_size``; ``first_differing_range`` is the smallest leaf range
    ``[begin, end)`` found to differ.
    """

    code = "checkpoint_verification_failed"

    def __init__(
        self,
        tree_size: int,
        expected_root: bytes,
        computed_root: bytes,
        first_differing_range: tuple[int, int],
        *,
        reason: str,
        source: str,
        **more: Any,
    ) -> None:
        begin, end = first_differing_range
        super().__init__(
            f"refusing to sign tree size {tree_size}: {reason}; "
            f"the stored {source} give root {expected_root.hex()}, "
            f"the stored leaf hashes give {computed_root.hex()}; "
            f"first differing range [{begin}, {end})",
            tree_size=tree_size,
            expected_root=expected_root,
            computed_root=computed_root,
            first_differing_range=[begin, end],
            reason=reason,
            source=source,
            **more,
        )
        self.tree_size = tree_size
        self.expected_root = expected_root
        self.computed_root = computed_root
        self.first_differing_range = first_differing_range
