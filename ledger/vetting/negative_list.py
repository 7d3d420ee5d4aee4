"""The negative list (负面清单) of the 2021 round, the "十不选" (DOMAIN.md §1.4).

Each clause has a code (N1..N10), a short text, a severity and, where the list gives
one, a look-back window:

- ``BAR`` (不得): a hard bar; a RECORD_FOUND on it disqualifies.
- ``UNSUITABLE`` (不宜): a judgement the lead unit documents (DOMAIN.md §6.2).

The texts are short Chinese renderings of the clauses as DOMAIN.md §1.4 summarises them.
N7 (incompetence, long absence, an unqualified Party member rating) and N10 (other
reasons) are the judgement clauses of the usual 不能/不宜 split; the rest are bars. N7
looks back 3 years (the Party member rating) and N9 5 years (environmental damage).

The table is append-only: :func:`ensure_negative_list` inserts the clauses that are
missing and never changes a stored one. Decisions name clauses by code; the API
refuses codes the table does not hold (:class:`UnknownClauseError`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from ledger.errors import InvalidInputError
from ledger.store.domain import negative_list

__all__ = [
    "CLAUSES",
    "MAX_CLAUSES",
    "Clause",
    "UnknownClauseError",
    "check_clauses",
    "ensure_negative_list",
    "list_clauses",
]

MAX_CLAUSES: Final = 10
"""At most this many clause codes on one decision (the list has ten)."""


@dataclass(frozen=True)
class Clause:
    code: str
    text: str
    severity: str  # BAR | UNSUITABLE
    lookback_years: int | None = None


CLAUSES: Final[tuple[Clause, ...]] = (
    Clause("N1", "对党不忠诚，搞“两面派”、做“两面人”，散布政治谣言的", "BAR"),
    Clause("N2", "受过刑事处罚，存在“村霸”和涉黑涉恶问题的", "BAR"),
    Clause(
        "N3",
        "受到党纪政务处分、组织处理尚在影响期内，或因严重违纪违法正在接受审查调查的",
        "BAR",
    ),
    Clause(
        "N4",
        "组织、实施、参与非法宗教、邪教活动或封建迷信、黄赌毒活动，"
        "或利用宗族、宗教势力干预基层组织的",
        "BAR",
    ),
    Clause("N5", "非法拉票贿选、操纵破坏选举的", "BAR"),
    Clause(
        "N6",
        "组织、参与群体性事件或非法上访，扰乱公共秩序、妨碍公务被依法处理的",
        "BAR",
    ),
    Clause(
        "N7",
        "在重大突发事件中失职失责，任期内考核不称职、被罢免，近3年被评为不合格党员，"
        "或长期外出无法正常履职的",
        "UNSUITABLE",
        3,
    ),
    Clause("N8", "截留挪用惠民资金、侵占集体财产且未整改的", "BAR"),
    Clause(
        "N9",
        "严重违法用地、违章建房、乱埋乱葬未整改，近5年严重破坏生态环境，"
        "或被列为失信被执行人未移出的",
        "BAR",
        5,
    ),
    Clause("N10", "有其他不宜作为候选人情形的", "UNSUITABLE"),
)
"""The ten clauses of the 2021 "十不选", in order."""


class UnknownClauseError(InvalidInputError):
    """A decision names a clause code the negative list does not hold."""

    code = "unknown_clause"


def ensure_negative_list(conn: Connection) -> int:
    """Insert the clauses of :data:`CLAUSES` that the table lacks; returns how many.

    Idempotent and safe to run concurrently (``ON CONFLICT DO NOTHING``); a stored
    clause is never changed (the table refuses UPDATE).
    """
    stored = set(conn.execute(select(negative_list.c.code)).scalars())
    missing = [c for c in CLAUSES if c.code not in stored]
    if not missing:
        return 0
    rows = [
        {
            "code": c.code,
            "text": c.text,
            "severity": c.severity,
            "lookback_years": c.lookback_years,
        }
        for c in missing
    ]
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(negative_list).on_conflict_do_nothing(), rows)
    else:
        conn.execute(sqlite.insert(negative_list).on_conflict_do_nothing(), rows)
    return len(missing)


def list_clauses(conn: Connection, *, after: str | None = None, limit: int = 100) -> list[Clause]:
    """The stored clauses in list order (N1, N2, ..., N10), after the code ``after``."""
    rows = [
        Clause(r.code, r.text, r.severity, r.lookback_years)
        for r in conn.execute(select(negative_list))
    ]
    rows.sort(key=lambda c: _order(c.code))
    if after is not None:
        rows = [c for c in rows if _order(c.code) > _order(after)]
    return rows[:limit]


def check_clauses(conn: Connection, codes: Iterable[str]) -> list[str]:
    """``codes`` sorted and without repeats, each a stored clause (else UnknownClauseError)."""
    unique = sorted(set(codes), key=_order)
    if len(unique) > MAX_CLAUSES:
        raise InvalidInputError(f"{len(unique)} clause codes, want at most {MAX_CLAUSES}")
    if not unique:
        return []
    known = set(
        conn.execute(select(negative_list.c.code).where(negative_list.c.code.in_(unique)))
        .scalars()
        .all()
    )
    unknown = [c for c in unique if c not in known]
    if unknown:
        raise UnknownClauseError(
            f"unknown negative-list clause code(s) {', '.join(unknown)}; "
            "GET /v1/negative-list lists them",
            codes=unknown,
        )
    return unique


def _order(code: str) -> tuple[str, int, str]:
    """N2 before N10: the letter prefix, then the number, then the rest."""
    head = code.rstrip("0123456789")
    tail = code[len(head) :]
    return (head, int(tail), "") if tail else (code, -1, code)
