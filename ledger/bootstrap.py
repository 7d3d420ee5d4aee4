"""First start: the platform unit, its first administrator, and the negative list.

`ledger init` and `ledger serve` call :func:`initialise`; it does its work once. The
administrator's API key is shown once; on the embedded default (LEDGER_ENV=development)
it is also written to ``<data dir>/admin-api-key`` (mode 0600), so `./scripts/run` can
tell a newcomer where to find it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ledger.files import write_private
from ledger.runtime import Ledger
from ledger.units.service import bootstrap
from ledger.vetting.negative_list import ensure_negative_list


@dataclass(frozen=True)
class Initialised:
    admin_key: str | None  # the new administrator's API key, or None if made before
    key_file: Path | None  # where it was written, if it was


def admin_key_file(ledger: Ledger) -> Path:
    return ledger.settings.data_dir / "admin-api-key"


def initialise(ledger: Ledger, *, now: datetime | None = None) -> Initialised:
    now = now or datetime.now(UTC)
    with ledger.engine.begin() as conn:
        ensure_negative_list(conn)
        issued = bootstrap(conn, ledger.master, now=now)
    if issued is None:
        return Initialised(None, None)
    path = None
    if ledger.settings.environment == "development":
        path = admin_key_file(ledger)
        # No principal existed, so a key file left from an earlier database is stale.
        path.unlink(missing_ok=True)
        write_private(path, issued.token + "\n")
    return Initialised(issued.token, path)
