"""The database's vetting and grant state against the contracts'.

- Vetting: each candidate's decisions are replayed in ``seq`` order through
  :func:`ledger.chain.vetting.apply_decision` (the contract's rules, mirrored). A decision
  the rules refuse is a finding. With a chain, ``VettingRegistry.candidate(id)`` must be
  the state after the decisions relayed so far (a later prefix is allowed: relaying is
  asynchronous; messages still waiting are a notice).
- Grants: each grant the database holds must be on chain with the same terms, and be
  revoked there exactly when the database has its revocation.
- Relays: every message the chain refused (``chain_relay_failures``) is a finding, and
  the messages still waiting for the chain are a notice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import astuple
from typing import Any

from sqlalchemy import Connection, and_, exists, select

from ledger.audit.chain_checks import GRANT_REGISTRY, VETTING_REGISTRY, ChainFacts
from ledger.audit.findings import Findings, ProgressCallback
from ledger.audit.message_checks import unix
from ledger.chain import grants as g
from ledger.chain import vetting as v
from ledger.errors import LedgerError
from ledger.merkle import hash_leaf
from ledger.sharing.views import chain_request_id
from ledger.store.domain import (
    candidates,
    chain_outbox,
    chain_relay_failures,
    datasets,
    election_rounds,
    grant_answers,
    grant_requests,
    grant_revocations,
    units,
    vetting_decisions,
)
from ledger.store.models import chain_relays, log_leaves
from ledger.vetting.state import round_id


def _relayed(conn: Connection, chain_id: int, kind: str) -> set[str]:
    rows = conn.execute(
        select(chain_relays.c.item_id).where(
            chain_relays.c.chain_id == chain_id, chain_relays.c.kind == kind
        )
    )
    return {str(i).lower() for i in rows.scalars()}


def check_relays(conn: Connection, findings: Findings, chain_id: int | None) -> None:
    """Refused messages are findings; messages still waiting for this chain, a notice."""
    owners = _owners_of_messages(conn)
    for row in conn.execute(
        select(chain_relay_failures).order_by(chain_relay_failures.c.failed_at)
    ):
        record = owners.get((row.kind, row.item_id.lower()))
        findings.add(
            "relay_refused",
            f"chain {row.chain_id} refused the {row.kind} message {row.item_id}: {row.error[:300]}",
            record_ids=[record],
            chain_id=int(row.chain_id),
            kind=row.kind,
            item_id=row.item_id,
            failed_at=row.failed_at,
        )
    if chain_id is None:
        return

    def done(table: Any) -> Any:
        return exists().where(
            and_(
                table.c.chain_id == chain_id,
                table.c.kind == chain_outbox.c.kind,
                table.c.item_id == chain_outbox.c.item_id,
            )
        )

    waiting = Counter(
        conn.execute(
            select(chain_outbox.c.kind).where(~done(chain_relays), ~done(chain_relay_failures))
        ).scalars()
    )
    if waiting:
        findings.add(
            "relay_pending",
            f"{sum(waiting.values())} messages wait in the outbox for chain {chain_id}: "
            + ", ".join(f"{n} {k}" for k, n in sorted(waiting.items())),
            chain_id=chain_id,
            waiting=dict(waiting),
        )


def _owners_of_messages(conn: Connection) -> dict[tuple[str, str], str]:
    """(kind, item id) of outbox messages -> the record they carry, where we can tell."""
    out: dict[tuple[str, str], str] = {}
    for digest, record_id in conn.execute(
        select(vetting_decisions.c.digest, vetting_decisions.c.record_id)
    ):
        out[("decision", digest.lower())] = record_id
    for grant_id, record_id in conn.execute(
        select(grant_answers.c.grant_id, grant_answers.c.record_id).where(
            grant_answers.c.grant_id.is_not(None)
        )
    ):
        out[("grant", grant_id.lower())] = record_id
    by_candidate = {
        "0x" + bytes(h).hex(): r
        for h, r in conn.execute(select(candidates.c.chain_id_hash, candidates.c.record_id))
    }
    revoked = {
        g_id.lower(): r
        for g_id, r in conn.execute(
            select(grant_revocations.c.grant_id, grant_revocations.c.record_id)
        )
    }
    for kind, item_id, payload in conn.execute(
        select(chain_outbox.c.kind, chain_outbox.c.item_id, chain_outbox.c.payload).where(
            chain_outbox.c.kind.in_(["registration", "revocation"])
        )
    ):
        subject = str(((payload or {}).get("abi") or [""])[0]).lower()
        record = (by_candidate if kind == "registration" else revoked).get(subject)
        if record is not None:
            out[(kind, item_id.lower())] = record
    for code, record_id in conn.execute(select(units.c.code, units.c.record_id)):
        out[("unit", "0x" + v.unit_id(code).hex())] = record_id
    for code, record_id in conn.execute(
        select(election_rounds.c.code, election_rounds.c.record_id)
    ):
        out[("round", "0x" + v.unit_id(code).hex())] = record_id
    for code, record_id in conn.execute(select(datasets.c.code, datasets.c.record_id)):
        out[("dataset", "0x" + g.dataset_id(code).hex())] = record_id
    return out


# ---- vetting --------------------------------------------------------------------------------


def _chain_tuple(state: v.VettingState) -> tuple[int, ...]:
    return (
        int(state.stage),
        int(state.outcome),
        state.opinions_given,
        state.record_found,
        state.needs_info,
        state.not_applicable,
        state.resolved,
    )


def check_vetting(
    conn: Connection, findings: Findings, facts: ChainFacts | None, progress: ProgressCallback
) -> int:
    """Replay every candidate; with a chain, compare with VettingRegistry.candidate(id)."""
    rounds = {r.code: r for r in conn.execute(select(election_rounds))}
    rows = conn.execute(
        select(candidates, units.c.parent_code.label("township_code")).join(
            units, units.c.code == candidates.c.village_code
        )
    ).all()
    decisions: dict[str, list[Any]] = {}
    for d in conn.execute(select(vetting_decisions).order_by(vetting_decisions.c.seq)):
        decisions.setdefault(d.candidate_id, []).append(d)
    vetting = facts.contracts.get(VETTING_REGISTRY) if facts else None
    relayed = _relayed(conn, facts.chain_id, "decision") if facts and vetting else set()
    registered = _relayed(conn, facts.chain_id, "registration") if facts and vetting else set()
    registrations = {
        str(((p or {}).get("abi") or [""])[0]).lower(): i.lower()
        for i, p in conn.execute(
            select(chain_outbox.c.item_id, chain_outbox.c.payload).where(
                chain_outbox.c.kind == "registration"
            )
        )
    }
    progress("candidates", 0, len(rows))
    for n, c in enumerate(rows, start=1):
        if n % 100 == 0:
            progress("candidates", n, len(rows))
        round_ = rounds.get(c.round_code)
        if round_ is None or c.township_code is None:
            continue  # a missing round or township: the references check reports it
        states = _replay(findings, c, round_, decisions.get(c.id, []))
        if facts is None or vetting is None:
            continue
        chain_hex = "0x" + bytes(c.chain_id_hash).hex()
        on_chain = facts.view.candidate(vetting, bytes(c.chain_id_hash))
        mine = decisions.get(c.id, [])
        if on_chain.stage == v.Stage.NONE:
            if registrations.get(chain_hex) in registered:
                findings.add(
                    "vetting_not_on_chain",
                    f"candidate {c.id} was registered on chain per chain_relays, but "
                    "VettingRegistry does not know it",
                    record_ids=[c.record_id],
                    candidate=c.id,
                )
            continue
        got = astuple(on_chain)[2:]
        landed = sum(1 for d in mine if d.digest.lower() in relayed)
        acceptable = [_chain_tuple(s) for s in states[min(landed, len(states) - 1) :]]
        if got not in acceptable or (on_chain.village_id, on_chain.round_id) != (
            v.unit_id(c.village_code),
            round_id(c.round_code),
        ):
            want = _chain_tuple(states[-1])
            findings.add(
                "vetting_state_mismatch",
                f"candidate {c.id}: the chain says {_named(got)}, the database's "
                f"{len(mine)} decisions give {_named(want)}",
                record_ids=[c.record_id, *(d.record_id for d in mine)],
                candidate=c.id,
                chain=dict(zip(_FIELDS, got, strict=True)),
                database=dict(zip(_FIELDS, want, strict=True)),
                decisions_relayed=landed,
            )
    progress("candidates", len(rows), len(rows))
    return len(rows)


def _named(state: tuple[int, ...]) -> str:
    stage, outcome = state[0], state[1]
    stage_name = v.Stage(stage).name if stage in set(v.Stage) else str(stage)
    outcome_name = v.Outcome(outcome).name if outcome in set(v.Outcome) else str(outcome)
    return f"stage {stage_name}, outcome {outcome_name}"


_FIELDS = (
    "stage",
    "outcome",
    "opinions_given",
    "record_found",
    "needs_info",
    "not_applicable",
    "resolved",
)


def _replay(findings: Findings, c: Any, round_: Any, mine: list[Any]) -> list[v.VettingState]:
    """The candidate's state after 0, 1, 2 ... of its decisions, up to the first refused."""
    state = v.VettingState(
        candidate_id=bytes(c.chain_id_hash),
        village_id=v.unit_id(c.village_code),
        township_id=v.unit_id(c.township_code),
        departments=tuple(v.unit_id(d) for d in round_.departments),
    )
    states = [state]
    for expected_seq, d in enumerate(mine):
        problem = None
        if int(d.seq) != expected_seq:
            problem = f"seq {d.seq} follows {expected_seq - 1}: a decision is missing"
        else:
            try:
                message = v.Decision(
                    bytes(c.chain_id_hash),
                    int(d.stage),
                    v.unit_id(d.unit_code),
                    int(d.verdict),
                    bytes(d.clauses_hash),
                    bytes(32),
                )
                state = v.apply_decision(state, message)
            except LedgerError as exc:
                problem = f"{exc.code}: {exc.message}"
        if problem is not None:
            findings.add(
                "vetting_rule_violation",
                f"candidate {c.id}, decision {d.id} (seq {d.seq}): {problem}",
                record_ids=[d.record_id],
                candidate=c.id,
                decision=d.id,
            )
            break
        states.append(state)
    return states


# ---- grants ---------------------------------------------------------------------------------


def check_grants(conn: Connection, findings: Findings, facts: ChainFacts | None) -> int:
    """Every granted answer against GrantRegistry.grantOf(grantId)."""
    grants_at = facts.contracts.get(GRANT_REGISTRY) if facts else None
    if facts is None or grants_at is None:
        return 0
    relayed = _relayed(conn, facts.chain_id, "grant")
    revocations_relayed = _relayed(conn, facts.chain_id, "revocation")
    revocation_items = {
        str(((p or {}).get("abi") or [""])[0]).lower(): i.lower()
        for i, p in conn.execute(
            select(chain_outbox.c.item_id, chain_outbox.c.payload).where(
                chain_outbox.c.kind == "revocation"
            )
        )
    }
    rows = conn.execute(
        select(
            grant_answers,
            grant_requests.c.dataset_code,
            grant_requests.c.requester_code,
            grant_revocations.c.record_id.label("revocation_record"),
            log_leaves.c.leaf_data,
        )
        .join(grant_requests, grant_requests.c.id == grant_answers.c.request_id)
        .outerjoin(grant_revocations, grant_revocations.c.grant_id == grant_answers.c.grant_id)
        .outerjoin(log_leaves, log_leaves.c.entry_id == grant_answers.c.record_id)
        .where(grant_answers.c.grant_id.is_not(None))
    ).all()
    for r in rows:
        grant_id = r.grant_id.lower()
        on_chain = facts.view.grant(grants_at, bytes.fromhex(grant_id.removeprefix("0x")))
        if on_chain is None:
            if grant_id in relayed:
                findings.add(
                    "grant_not_on_chain",
                    f"grant {r.grant_id} was relayed per chain_relays, but GrantRegistry does "
                    "not know it",
                    record_ids=[r.record_id],
                    grant=r.grant_id,
                )
            continue
        want: dict[str, Any] = {
            "dataset_id": g.dataset_id(r.dataset_code),
            "grantee_unit_id": v.unit_id(r.requester_code),
            "scope_hash": bytes(r.scope_hash or b""),
            "valid_from": unix(r.valid_from),
            "valid_until": unix(r.valid_until),
            "request_id": chain_request_id(r.request_id),
        }
        if r.leaf_data is not None:
            want["leaf_hash"] = hash_leaf(bytes(r.leaf_data))
        differs = {
            k: {"chain": getattr(on_chain, k), "database": w}
            for k, w in want.items()
            if getattr(on_chain, k) != w
        }
        if differs:
            findings.add(
                "grant_mismatch",
                f"grant {r.grant_id}: the chain's terms differ from the database's in "
                + ", ".join(differs),
                record_ids=[r.record_id],
                grant=r.grant_id,
                differs=differs,
            )
        revoked_in_db = r.revocation_record is not None
        if bool(on_chain.revoked_at) != revoked_in_db:
            pending = revoked_in_db and revocation_items.get(grant_id) not in revocations_relayed
            if not pending:
                findings.add(
                    "grant_revocation_mismatch",
                    f"grant {r.grant_id} is "
                    + (
                        "revoked on chain but not in the database"
                        if on_chain.revoked_at
                        else "revoked in the database but not on chain"
                    ),
                    record_ids=[r.record_id, r.revocation_record],
                    grant=r.grant_id,
                    chain_revoked_at=on_chain.revoked_at,
                )
    return len(rows)
