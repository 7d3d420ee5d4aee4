"""Fault injection for crash tests: ``LEDGER_FAILPOINTS=name[,name…]`` kills the process
at the named point, as a power cut would (no cleanup, no atexit).

Only tests set the variable; in normal operation each call is one dictionary look-up.
"""

from __future__ import annotations

import os

EXIT_CODE = 86


def failpoint(name: str) -> None:
    """Exit at once with :data:`EXIT_CODE` when ``name`` is in ``LEDGER_FAILPOINTS``."""
    armed = os.environ.get("LEDGER_FAILPOINTS")
    if armed and name in armed.split(","):
        os._exit(EXIT_CODE)
