"""Loading the Hunchun demo (DOMAIN.md §7, :mod:`ledger.demo`) into a ledger through the
services, each act done by the principal whose act it is, one transaction per act.

:func:`load_units` acts as the platform administrator: the demo's units and one principal
per unit and role the demo needs (:data:`ledger.demo.PRINCIPALS`), returning their API
keys. :func:`load_acts` then authenticates as those principals: the lead department opens
the round, the villages register the six candidates, the villages, townships and
departments take them to their stated outcomes; the departments publish their datasets
with a few rows, the requesters ask for the six grants and the owners answer.

The demo's dates are DOMAIN.md's (January 2026); loaded on another day they are moved:
the election day is 100 days after the load, and every grant window starts on the day of
the load, keeping its length. The records carry the real time of each act.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, select

from ledger import demo
from ledger.auth import Caller
from ledger.chain import vetting as v
from ledger.context import ChainDomain, Context
from ledger.errors import ConflictError
from ledger.sealing import MasterKey
from ledger.sharing import service as sharing
from ledger.sharing.model import Decision as GrantDecision
from ledger.sharing.model import FieldSpec, Purpose, SharingClass, parse_time
from ledger.store.domain import units
from ledger.units import service as units_service
from ledger.vetting import service as vetting

ELECTION_DAY_AFTER = timedelta(days=100)
"""How far after the load the demo round's election day is."""


class DemoLoadedError(ConflictError):
    """The demo's units are registered already: the demo loads into a fresh ledger only."""

    code = "demo_loaded"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def demo_units() -> list[tuple[str, str, str, str | None]]:
    """The demo's units as (code, name, level, parent), townships before their villages."""
    found: list[tuple[str, str, str, str | None]] = [
        (code, name, "township", None) for code, name in demo.TOWNSHIPS.items()
    ]
    found += [(code, name, "village", t) for code, (name, t) in demo.VILLAGES.items()]
    found += [(code, name, "county", None) for code, name in demo.DEPARTMENTS.items()]
    return found


def loaded_units(conn: Connection) -> list[str]:
    """The demo units registered already (none in a ledger the demo was not loaded into)."""
    codes = [code for code, *_ in demo_units()]
    return sorted(conn.execute(select(units.c.code).where(units.c.code.in_(codes))).scalars())


def check_not_loaded(conn: Connection) -> None:
    found = loaded_units(conn)
    if found:
        raise DemoLoadedError(
            f"the demo is loaded already ({len(found)} of its units exist, e.g. {found[0]});"
            " load it into a fresh ledger (another LEDGER_DATA_DIR or database)",
            units=len(found),
        )


def load_units(
    engine: Engine,
    master: MasterKey,
    domain: ChainDomain,
    operator: Caller,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """Register the demo's units and principals, in one transaction as ``operator`` (a
    platform administrator); returns principal name -> API key. Refuses (409
    ``demo_loaded``) when any demo unit exists."""
    with engine.begin() as conn:
        check_not_loaded(conn)
        ctx = Context(conn, operator, now or _utcnow(), master, domain)
        for code, name, level, parent in demo_units():
            units_service.register_unit(ctx, code=code, name=name, level=level, parent=parent)
        return {
            who: units_service.create_principal(ctx, unit=unit, role=role, label=who).token
            for who, (unit, role) in demo.PRINCIPALS.items()
        }


@dataclass(frozen=True)
class Loaded:
    """What :func:`load_acts` made: ids by the demo's names, and where each one ended."""

    round_code: str
    election_day: str
    candidates: dict[str, str]  # C1.. -> candidate id
    outcomes: dict[str, str]  # C1.. -> outcome, as the lead department sees it
    datasets: dict[str, int]  # code -> rows
    grants: dict[str, str]  # G1.. -> grant id
    grant_status: dict[str, str]  # G1.. -> status at the end of the load


@dataclass(frozen=True)
class _Actors:
    """One transaction at a time as a demo principal, authenticated by its API key."""

    engine: Engine
    master: MasterKey
    domain: ChainDomain
    keys: Mapping[str, str]
    clock: Callable[[], datetime]

    @contextlib.contextmanager
    def acting(self, who: str) -> Iterator[Context]:
        with self.engine.begin() as conn:
            caller = units_service.authenticate(conn, self.keys[who])
            yield Context(conn, caller, self.clock(), self.master, self.domain)


def load_acts(
    engine: Engine,
    master: MasterKey,
    domain: ChainDomain,
    keys: Mapping[str, str],
    *,
    clock: Callable[[], datetime] = _utcnow,
) -> Loaded:
    """The demo's acts, each by its principal (``keys`` from :func:`load_units`)."""
    actors = _Actors(engine, master, domain, keys, clock)
    start = clock()
    election_day = (start + ELECTION_DAY_AFTER).date()
    ids = _vetting(actors, election_day)
    rows = _datasets(actors)
    grants = _grants(
        actors, start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    with actors.acting("org_admin") as ctx:
        outcomes = {key: vetting.get_candidate(ctx, cid).outcome for key, cid in ids.items()}
    with actors.acting("auditor") as ctx:
        status = {g: sharing.get_grant(ctx, gid).status(ctx.now).value for g, gid in grants.items()}
    return Loaded(demo.ROUND_CODE, election_day.isoformat(), ids, outcomes, rows, grants, status)


def _decide(
    actors: _Actors, who: str, cid: str, stage: v.Stage, verdict: int, d: demo.Decision
) -> None:
    with actors.acting(who) as ctx:
        vetting.decide(
            ctx, cid, stage=stage, verdict=verdict, clause_codes=d.clause_codes, note=d.note
        )


def _vetting(actors: _Actors, election_day: date) -> dict[str, str]:
    """The round, the six registrations, and the three stages to each stated outcome."""
    with actors.acting("org_admin") as ctx:
        vetting.open_round(
            ctx,
            code=demo.ROUND_CODE,
            name=demo.ROUND_NAME,
            kind="GENERAL",
            election_day=election_day,
            departments=demo.ROUND_DEPARTMENTS,
        )
    ids: dict[str, str] = {}
    for key, c in demo.DEMO_CANDIDATES.items():
        with actors.acting(f"clerk_{c.village}") as ctx:
            registered = vetting.register_candidate(
                ctx,
                round_code=demo.ROUND_CODE,
                committee=c.committee,
                post=c.post,
                incumbent=c.incumbent,
                person=vetting.Person(**c.person),
            )
        ids[key] = registered.candidate.id
    for key, c in demo.DEMO_CANDIDATES.items():
        cid = ids[key]
        _decide(actors, f"sec_{c.village}", cid, v.Stage.PRE_REVIEW, v.Verdict.PASS, demo.PASS)
        verdict = v.Verdict[c.preliminary.verdict]
        _decide(
            actors,
            f"reviewer_{c.township}",
            cid,
            v.Stage.PRELIMINARY_REVIEW,
            verdict,
            c.preliminary,
        )
        if not c.reaches_joint_review:
            continue
        for dept in demo.ROUND_DEPARTMENTS:
            opinion = c.opinion(dept)
            value = v.Opinion[opinion.verdict]
            _decide(actors, f"handler_{dept}", cid, v.Stage.JOINT_REVIEW, value, opinion)
    return ids


def _datasets(actors: _Actors) -> dict[str, int]:
    """Each department publishes its dataset and one row per demo person."""
    rows: dict[str, int] = {}
    for code, d in demo.DEMO_DATASETS.items():
        with actors.acting(f"approver_{d.owner}") as ctx:
            sharing.publish(
                ctx,
                code=code,
                name=d.name,
                sharing_class=SharingClass(d.sharing_class),
                fields=[FieldSpec.from_json(f) for f in d.fields],
            )
        new = [
            sharing.NewRow(p["division"], demo.values_for(code, n))
            for n, p in enumerate(demo.PERSONS)
        ]
        with actors.acting(f"approver_{d.owner}") as ctx:
            rows[code] = sharing.ingest(ctx, code, new).rows
    return rows


def _grants(actors: _Actors, today: datetime) -> dict[str, str]:
    """G1..G6 requested, then answered by their owners (G6 by the platform, at once); each
    window moved to start ``today``, keeping its length."""
    requests: dict[str, sharing.RequestInfo] = {}
    for name, g in demo.DEMO_GRANTS.items():
        origin = parse_time(g.window[0], "valid_from")
        with actors.acting(demo.REQUESTERS[g.requester]) as ctx:
            requests[name] = sharing.request_grant(
                ctx,
                dataset=g.dataset,
                purpose=Purpose(g.purpose),
                scenario=g.scenario,
                legal_basis=demo.LEGAL_BASIS,
                fields=g.fields,
                valid_from=today,
                valid_until=today + (parse_time(g.window[1], "valid_until") - origin),
            )
    grants: dict[str, str] = {}
    for name, g in demo.DEMO_GRANTS.items():
        made = requests[name]
        if g.answer is not None:
            origin = parse_time(g.window[0], "valid_from")
            until = g.answer.valid_until
            with actors.acting(f"approver_{demo.DEMO_DATASETS[g.dataset].owner}") as ctx:
                made = sharing.answer(
                    ctx,
                    made.id,
                    decision=GrantDecision(g.answer.decision),
                    fields=g.answer.fields,
                    valid_from=None,
                    valid_until=today + (parse_time(until, "valid_until") - origin)
                    if until
                    else None,
                    reason=None,
                )
        if made.answer is None or made.answer.grant_id is None:  # the demo denies none
            raise ConflictError(f"demo grant {name} was not issued", grant=name)
        grants[name] = made.answer.grant_id
    return grants
