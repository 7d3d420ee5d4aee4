"""Signed messages against the database and the log: registrations, decisions, grants and
revocations.

Each of them was signed (EIP-712) by its unit's key over fields that include the leaf
hash of its own log entry, and queued in ``chain_outbox`` for the registries. For each
stored row the audit rebuilds the message from the row and the log, and checks:

1. the message's leaf hash is the hash of the row's log entry as stored now;
2. the message hashes to the stored digest (or grant id) under one of the registry
   domains we deployed (``chain_deployments``): the row still says what was signed;
3. the signature recovers to the signing unit's key (``units.signing_address``);
4. the outbox holds the same message and signature (what the chain was or will be sent).

A row edited in the database (a verdict, a window, a grantee) fails 2 (and 4), naming
the row's record; re-signing it would need the unit's key, which the master key seals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from ledger.audit.chain_checks import GRANT_REGISTRY, VETTING_REGISTRY
from ledger.audit.findings import Findings
from ledger.chain import grants as g
from ledger.chain import vetting as v
from ledger.chain.signatures import recover_signer
from ledger.errors import LedgerError
from ledger.merkle import hash_leaf
from ledger.sharing.views import chain_request_id
from ledger.store.domain import (
    candidates,
    chain_outbox,
    datasets,
    grant_answers,
    grant_requests,
    grant_revocations,
    units,
    vetting_decisions,
)
from ledger.store.models import chain_deployments, log_leaves
from ledger.vetting.state import round_id

Domain = tuple[int, str]  # (chain id, registry address)


def unix(value: datetime) -> int:
    """A stored time as Unix seconds (SQLite hands back naive datetimes, in UTC)."""
    return int((value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp())


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _norm(items: Sequence[Any]) -> list[Any]:
    """An ABI list as the outbox keeps it: hex strings lower-cased, numbers as ints."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, bytes):
            out.append(_hex(item))
        elif isinstance(item, str) and item.startswith("0x"):
            out.append(item.lower())
        else:
            out.append(int(str(item)))
    return out


class _Context:
    def __init__(self, conn: Connection, findings: Findings) -> None:
        self.findings = findings
        self.domains: dict[str, list[Domain]] = {VETTING_REGISTRY: [], GRANT_REGISTRY: []}
        for row in conn.execute(select(chain_deployments)):
            if row.contract in self.domains:
                self.domains[row.contract].append((int(row.chain_id), str(row.address)))
        self.outbox: dict[tuple[str, str], Any] = {}
        self.by_subject: dict[tuple[str, str], Any] = {}  # (kind, abi[0]) -> outbox row
        for row in conn.execute(
            select(chain_outbox).where(
                chain_outbox.c.kind.in_(["registration", "decision", "grant", "revocation"])
            )
        ):
            self.outbox[(row.kind, row.item_id.lower())] = row
            abi = (row.payload or {}).get("abi") or [None]
            self.by_subject[(row.kind, str(abi[0]).lower())] = row

    def signer_ok(self, digest: str, signature: bytes | None, address: str) -> str | None:
        """None when ``signature`` over ``digest`` is ``address``'s, else why not."""
        if signature is None:
            return "no signature is stored"
        try:
            got = recover_signer(bytes.fromhex(digest.removeprefix("0x")), bytes(signature))
        except (LedgerError, ValueError) as exc:
            return f"the signature does not recover: {exc}"
        if got.lower() != address.lower():
            return f"the signature is by {got}, want the unit's key {address}"
        return None

    def compare_outbox(
        self, kind: str, item_id: str, abi: list[Any], signature: bytes | None
    ) -> dict[str, Any]:
        """Differences between the outbox's message and ``abi`` (and its signature)."""
        row = self.outbox.get((kind, item_id.lower()))
        if row is None:
            return {"outbox": f"no {kind} message {item_id} in chain_outbox"}
        got = _norm((row.payload or {}).get("abi") or [])
        differs: dict[str, Any] = {}
        if got != _norm(abi):
            differs["outbox_abi"] = {"outbox": got, "rebuilt": _norm(abi)}
        if (
            signature is not None
            and row.signature is not None
            and bytes(row.signature) != bytes(signature)
        ):
            differs["outbox_signature"] = "the outbox's signature is not the row's"
        return differs

    def report(
        self,
        what: str,
        record_id: str,
        leaf_index: int | None,
        differs: Mapping[str, Any],
        bad_signature: str | None,
    ) -> None:
        if bad_signature is not None:
            self.findings.add(
                "signature_invalid",
                f"{what}: {bad_signature}",
                record_ids=[record_id],
                leaf_indices=[leaf_index],
            )
        missing = differs.get("outbox")
        if missing is not None and len(differs) == 1:
            self.findings.add(
                "outbox_missing",
                f"{what}: {missing}",
                record_ids=[record_id],
                leaf_indices=[leaf_index],
            )
        elif differs:
            self.findings.add(
                "signed_message_mismatch",
                f"{what} differs from the message its unit signed: {', '.join(differs)}",
                record_ids=[record_id],
                leaf_indices=[leaf_index],
                differs=dict(differs),
            )


def check_messages(conn: Connection, findings: Findings) -> dict[str, int]:
    """Checks 1–4 for every registration, decision, grant and revocation; returns counts."""
    ctx = _Context(conn, findings)
    counts = {
        "registrations": _registrations(conn, ctx),
        "decisions": _decisions(conn, ctx),
        "grants": _grants(conn, ctx),
        "revocations": _revocations(conn, ctx),
    }
    _orphans(conn, ctx)
    return counts


def _orphans(conn: Connection, ctx: _Context) -> None:
    """Outbox messages whose row is gone: what the unit signed is there, the fact is not."""
    rows = {
        "decision": {d.lower() for d in conn.execute(select(vetting_decisions.c.digest)).scalars()},
        "grant": {
            i.lower()
            for i in conn.execute(select(grant_answers.c.grant_id)).scalars()
            if i is not None
        },
        "registration": {
            _hex(bytes(h)) for h in conn.execute(select(candidates.c.chain_id_hash)).scalars()
        },
        "revocation": {
            i.lower() for i in conn.execute(select(grant_revocations.c.grant_id)).scalars()
        },
    }
    for (kind, item_id), row in sorted(ctx.outbox.items()):
        abi = (row.payload or {}).get("abi") or [""]
        key = item_id if kind in ("decision", "grant") else str(abi[0]).lower()
        if key not in rows[kind]:
            ctx.findings.add(
                "message_without_row",
                f"the outbox holds a signed {kind} message {item_id} whose database row is gone",
                kind=kind,
                item_id=item_id,
                abi=abi,
            )


def _leaf(row: Any) -> bytes | None:
    return None if row.leaf_data is None else hash_leaf(bytes(row.leaf_data))


def _registrations(conn: Connection, ctx: _Context) -> int:
    rows = conn.execute(
        select(
            candidates.c.id,
            candidates.c.round_code,
            candidates.c.village_code,
            candidates.c.chain_id_hash,
            candidates.c.record_id,
            units.c.signing_address,
            log_leaves.c.leaf_index,
            log_leaves.c.leaf_data,
        )
        .join(units, units.c.code == candidates.c.village_code)
        .outerjoin(log_leaves, log_leaves.c.entry_id == candidates.c.record_id)
    ).all()
    for r in rows:
        leaf = _leaf(r)
        if leaf is None:
            continue  # the record's leaf is missing: reported by the records check
        message = v.Registration(
            bytes(r.chain_id_hash), round_id(r.round_code), v.unit_id(r.village_code), leaf
        )
        queued = ctx.by_subject.get(("registration", _hex(bytes(r.chain_id_hash))))
        what = f"the registration of candidate {r.id}"
        if queued is None:
            ctx.report(what, r.record_id, r.leaf_index, {"outbox": "not in chain_outbox"}, None)
            continue
        digests = {_hex(v.digest(message, cid, a)) for cid, a in ctx.domains[VETTING_REGISTRY]}
        differs = ctx.compare_outbox("registration", queued.item_id, list(message.as_abi()), None)
        if digests and queued.item_id.lower() not in digests:
            differs["digest"] = {"outbox": queued.item_id, "rebuilt": sorted(digests)}
        bad = ctx.signer_ok(queued.item_id, queued.signature, r.signing_address)
        ctx.report(what, r.record_id, r.leaf_index, differs, bad)
    return len(rows)


def _decisions(conn: Connection, ctx: _Context) -> int:
    rows = conn.execute(
        select(
            vetting_decisions,
            candidates.c.chain_id_hash,
            units.c.signing_address,
            log_leaves.c.leaf_index,
            log_leaves.c.leaf_data,
        )
        .join(candidates, candidates.c.id == vetting_decisions.c.candidate_id)
        .join(units, units.c.code == vetting_decisions.c.unit_code)
        .outerjoin(log_leaves, log_leaves.c.entry_id == vetting_decisions.c.record_id)
    ).all()
    for r in rows:
        leaf = _leaf(r)
        what = f"decision {r.id} (seq {r.seq} of candidate {r.candidate_id})"
        differs: dict[str, Any] = {}
        try:
            clauses = v.clauses_hash(list(r.clause_codes), bytes(r.clauses_salt))
        except LedgerError as exc:
            clauses = None
            differs["clause_codes"] = exc.message
        if clauses is not None and clauses != bytes(r.clauses_hash):
            differs["clauses_hash"] = "the clause codes and salt do not give the clauses hash"
        if leaf is not None:
            try:
                message = v.Decision(
                    bytes(r.chain_id_hash),
                    int(r.stage),
                    v.unit_id(r.unit_code),
                    int(r.verdict),
                    bytes(r.clauses_hash),
                    leaf,
                )
            except LedgerError as exc:
                differs["message"] = exc.message
            else:
                domains = ctx.domains[VETTING_REGISTRY]
                digests = {_hex(v.digest(message, cid, a)) for cid, a in domains}
                if digests and r.digest.lower() not in digests:
                    differs["digest"] = {"stored": r.digest, "rebuilt": sorted(digests)}
                differs |= ctx.compare_outbox(
                    "decision", r.digest, list(message.as_abi()), bytes(r.signature)
                )
        bad = ctx.signer_ok(r.digest, bytes(r.signature), r.signing_address)
        ctx.report(what, r.record_id, r.leaf_index, differs, bad)
    return len(rows)


def _grants(conn: Connection, ctx: _Context) -> int:
    owner = aliased(units)
    rows = conn.execute(
        select(
            grant_answers,
            grant_requests.c.dataset_code,
            grant_requests.c.requester_code,
            owner.c.signing_address,
            log_leaves.c.leaf_index,
            log_leaves.c.leaf_data,
        )
        .join(grant_requests, grant_requests.c.id == grant_answers.c.request_id)
        .join(datasets, datasets.c.code == grant_requests.c.dataset_code)
        .join(owner, owner.c.code == datasets.c.owner_code)
        .outerjoin(log_leaves, log_leaves.c.entry_id == grant_answers.c.record_id)
        .where(grant_answers.c.grant_id.is_not(None))
    ).all()
    for r in rows:
        leaf = _leaf(r)
        what = f"grant {r.grant_id} (request {r.request_id})"
        differs: dict[str, Any] = {}
        if leaf is None:
            continue
        try:
            scope = g.scope_hash(list(r.fields or []), {"division": r.row_scope})
            if scope != bytes(r.scope_hash or b""):
                differs["scope_hash"] = "the fields and row scope do not give the scope hash"
            grant = g.Grant(
                dataset_id=g.dataset_id(r.dataset_code),
                grantee_unit_id=v.unit_id(r.requester_code),
                scope_hash=bytes(r.scope_hash or b""),
                valid_from=unix(r.valid_from),
                valid_until=unix(r.valid_until),
                request_id=chain_request_id(r.request_id),
                leaf_hash=leaf,
            )
        except (LedgerError, TypeError, AttributeError) as exc:
            differs["terms"] = str(exc)
            ctx.report(what, r.record_id, r.leaf_index, differs, None)
            continue
        bad = None
        if _hex(g.grant_id(grant)) != r.grant_id.lower():
            differs["grant_id"] = {"stored": r.grant_id, "rebuilt": _hex(g.grant_id(grant))}
        else:  # the terms are the signed ones: the signature must be the owner's
            bad = _grant_signature(ctx, grant, r.signature, r.signing_address)
        differs |= ctx.compare_outbox(
            "grant", r.grant_id, list(grant.as_tuple()), _bytes(r.signature)
        )
        ctx.report(what, r.record_id, r.leaf_index, differs, bad)
    return len(rows)


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _grant_signature(ctx: _Context, grant: g.Grant, signature: Any, address: str) -> str | None:
    domains = ctx.domains[GRANT_REGISTRY]
    if not domains:
        return None
    reasons = []
    for cid, contract in domains:
        digest = _hex(g.grant_digest(grant, chain_id=cid, contract=contract))
        reason = ctx.signer_ok(digest, _bytes(signature), address)
        if reason is None:
            return None
        reasons.append(reason)
    return reasons[0]


def _revocations(conn: Connection, ctx: _Context) -> int:
    owner = aliased(units)
    rows = conn.execute(
        select(
            grant_revocations,
            owner.c.signing_address,
            log_leaves.c.leaf_index,
            log_leaves.c.leaf_data,
        )
        .join(grant_answers, grant_answers.c.grant_id == grant_revocations.c.grant_id)
        .join(grant_requests, grant_requests.c.id == grant_answers.c.request_id)
        .join(datasets, datasets.c.code == grant_requests.c.dataset_code)
        .join(owner, owner.c.code == datasets.c.owner_code)
        .outerjoin(log_leaves, log_leaves.c.entry_id == grant_revocations.c.record_id)
    ).all()
    for r in rows:
        leaf = _leaf(r)
        if leaf is None:
            continue
        what = f"the revocation of grant {r.grant_id}"
        try:
            message = g.Revocation(bytes.fromhex(r.grant_id.removeprefix("0x")), leaf)
        except (LedgerError, ValueError) as exc:
            ctx.report(what, r.record_id, r.leaf_index, {"grant_id": str(exc)}, None)
            continue
        digests = [
            _hex(g.revocation_digest(message, chain_id=cid, contract=a))
            for cid, a in ctx.domains[GRANT_REGISTRY]
        ]
        queued = next(
            (ctx.outbox[("revocation", d)] for d in digests if ("revocation", d) in ctx.outbox),
            ctx.by_subject.get(("revocation", r.grant_id.lower())),
        )
        differs: dict[str, Any] = {}
        bad = None
        if queued is None:
            differs["outbox"] = "not in chain_outbox"
        else:
            differs |= ctx.compare_outbox(
                "revocation", queued.item_id, list(message.as_tuple()), bytes(r.signature)
            )
            if digests and queued.item_id.lower() not in digests:
                differs["digest"] = {"outbox": queued.item_id, "rebuilt": digests}
            bad = ctx.signer_ok(queued.item_id, bytes(r.signature), r.signing_address)
        ctx.report(what, r.record_id, r.leaf_index, differs, bad)
    return len(rows)
