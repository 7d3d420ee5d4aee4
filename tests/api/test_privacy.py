"""No personal field appears in logs, in entries, in chain calldata or events, in the outbox
or in a URL (issue #4): the vetting and sharing demos run over HTTP with every Python
logger at DEBUG, are relayed and anchored, and then everything is scanned for every demo
name, ID number, phone, birth date and sealed note, in the encodings a leak could take.

The masked forms (``222404********0316``, ``金**``, ``138****0000``) are allowed. The
personal data is in the database, but only as ciphertext: every column of every table
is scanned too, and the sealed records still open to the same persons.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak

from ledger import demo, vault
from tests.api.env import ApiEnv
from tests.api.sharing_demo import demo_grants, read
from tests.api.vetting_demo import (
    opinion,
    register,
    registration,
    run_demo,
    through_township,
    view,
)

RESOLVED_NOTE = "已核实，已移出名单"


# ---- what to look for -----------------------------------------------------------------------

#: Where a haystack came from; birth dates as YYYYMMDD are looked for only in the small,
#: structured ones (eight digits turn up by chance in megabytes of hex).
STRUCTURED = frozenset({"entry", "outbox", "url", "chain"})


@dataclass(frozen=True)
class Needle:
    label: str  # which secret, e.g. "P1 id_number"
    form: str  # how it is encoded, e.g. "utf8-hex"
    text: str | None  # looked for in text (hex forms in lower case, in the lowered text)
    raw: bytes | None  # looked for in bytes
    structured_only: bool = False


def _forms(label: str, secret: str, *, structured_only: bool = False) -> list[Needle]:
    utf8 = secret.encode()
    found = [
        Needle(label, "plain", secret, utf8),
        Needle(label, "utf8-hex", utf8.hex(), utf8.hex().encode()),
        Needle(label, "base64", base64.b64encode(utf8).decode(), base64.b64encode(utf8)),
        Needle(label, "sha256", hashlib.sha256(utf8).hexdigest(), hashlib.sha256(utf8).digest()),
        Needle(label, "keccak256", keccak(utf8).hex(), keccak(utf8)),
    ]
    if secret.lower() != secret:
        found.append(Needle(label, "lower-case", secret.lower(), secret.lower().encode()))
    quoted = quote(secret, safe="")
    if quoted != secret:
        found.append(Needle(label, "percent-encoded", quoted.lower(), quoted.encode()))
    escaped = json.dumps(secret)[1:-1]
    if escaped != secret:
        found.append(Needle(label, "json-escaped", escaped.lower(), escaped.encode()))
    if secret.isdigit() and int(secret) < 2**64:
        number = int(secret).to_bytes(8, "big")
        found.append(Needle(label, "uint64", number.hex(), number))
    return [
        Needle(n.label, n.form, n.text, n.raw, structured_only) if structured_only else n
        for n in found
    ]


def needles() -> list[Needle]:
    found: list[Needle] = []
    for n, person in enumerate(demo.PERSONS):
        number = person["id_number"]
        found += _forms(f"P{n} name", person["name"])
        found += _forms(f"P{n} id_number", number)
        found += _forms(f"P{n} birth date", f"{number[6:10]}-{number[10:12]}-{number[12:14]}")
        found += _forms(f"P{n} birth date", number[6:14], structured_only=True)
        found += _forms(f"P{n} phone", f"1380000{n:04d}")
    c1 = demo.DEMO_CANDIDATES["C1"].person
    found += _forms("candidate phone", c1["phone"]) + _forms("candidate address", c1["address"])
    for label, note in (
        ("RETURN_NOTE", demo.RETURN_NOTE),
        ("FY_NOTE", demo.FY_NOTE),
        ("GA_NOTE", demo.GA_NOTE),
        ("resolved note", RESOLVED_NOTE),
        ("cert_level row value", "社会工作师"),
    ):
        found += _forms(label, note)
    return found


class Scan:
    """Every place a needle was found, with enough around it to see what leaked."""

    def __init__(self) -> None:
        self.needles = needles()
        self.findings: list[str] = []
        self.scanned: dict[str, int] = {}

    def text(self, kind: str, where: str, haystack: str) -> None:
        self.scanned[kind] = self.scanned.get(kind, 0) + 1
        lowered = haystack.lower()
        for n in self.needles:
            if n.text is None or (n.structured_only and kind not in STRUCTURED):
                continue
            in_ = haystack if n.form in ("plain", "base64") else lowered
            at = in_.find(n.text)
            if at >= 0:
                context = haystack[max(0, at - 60) : at + len(n.text) + 60]
                self.findings.append(f"{where}: {n.label} ({n.form}) in …{context!r}…")

    def raw(self, kind: str, where: str, haystack: bytes) -> None:
        self.scanned[kind] = self.scanned.get(kind, 0) + 1
        for n in self.needles:
            if n.raw is None or (n.structured_only and kind not in STRUCTURED):
                continue
            at = haystack.find(n.raw)
            if at >= 0:
                context = haystack[max(0, at - 40) : at + len(n.raw) + 40]
                self.findings.append(f"{where}: {n.label} ({n.form}) in …{context!r}…")

    def value(self, kind: str, where: str, value: Any, depth: int = 0) -> None:
        """A log argument or a column value, whatever its type."""
        if value is None or isinstance(value, bool | int | float) or depth > 6:
            return
        if isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            self.raw(kind, where, data)
            self.text(kind, where, data.decode("utf-8", "replace"))
        elif isinstance(value, str):
            self.text(kind, where, value)
        elif isinstance(value, dict):
            for k, item in value.items():
                self.value(kind, where, k, depth + 1)
                self.value(kind, where, item, depth + 1)
        elif isinstance(value, Sequence | set | frozenset):
            for item in value:
                self.value(kind, where, item, depth + 1)
        elif type(value).__name__ == "_repr_params":  # SQLAlchemy's bound parameters
            self.value(kind, where, value.params, depth + 1)  # unshortened
        else:
            self.text(kind, where, repr(value))
            self.text(kind, where, str(value))

    def assert_clean(self) -> None:
        shown = "\n".join(self.findings[:60])
        more = len(self.findings) - 60
        assert not self.findings, (
            f"personal data found in {len(self.findings)} places"
            + (f" (first 60; {more} more)" if more > 0 else "")
            + f":\n{shown}"
        )


# ---- capturing ------------------------------------------------------------------------------


@contextlib.contextmanager
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Root at DEBUG into caplog, and so every logger that set itself a higher level
    (``sqlalchemy`` and ``psycopg`` set WARNING); those that do not propagate get
    caplog's handler directly."""
    caplog.set_level(logging.DEBUG)
    detached: list[logging.Logger] = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        if logger.level > logging.DEBUG:
            caplog.set_level(logging.DEBUG, logger=name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            detached.append(logger)
    try:
        yield
    finally:
        for logger in detached:
            logger.removeHandler(caplog.handler)


def vetting_flow(city: ApiEnv) -> dict[str, str]:
    """The demo's six candidates, every view and search, C3 resolved, C6 resubmitted."""
    ids = run_demo(city)
    for cid in ids.values():
        for who in ("org_admin", "auditor"):
            view(city, cid, who)
            city.ok(city.get(f"/v1/candidates/{cid}/history", who=who))
    view(city, ids["C5"], "clerk_DEMO-MAXIN")
    view(city, ids["C5"], "handler_GA")
    view(city, ids["C5"], "reviewer_222404200")
    for key, c in demo.DEMO_CANDIDATES.items():
        found = city.ok(
            city.post(
                "/v1/candidates/search", {"id_number": c.person["id_number"]}, who="org_admin"
            )
        )
        assert [f["id"] for f in found["items"]] == [ids[key]]
    city.ok(city.get("/v1/candidates", who="org_admin", params={"outcome": "FAILED"}))
    city.ok(opinion(city, ids["C3"], "FY", "NO_RECORD", note=RESOLVED_NOTE), 201)
    again = register(city, "C6", resubmits=ids["C6"])
    through_township(city, "C6", again["id"])
    # A refusal whose request carries the person: its error must not quote it either.
    refused = city.post("/v1/candidates", registration("C1"), who="clerk_DEMO-FANGCHUAN")
    assert refused.status_code == 409 and "金明哲" not in refused.text
    return ids


def sharing_flow(city: ApiEnv) -> dict[str, Any]:
    """The six datasets and grants, governed reads under them (G6 masked), a revocation."""
    grants = demo_grants(city)
    city.ok(read(city, "requester_org", grants["G1"], "ADMINISTRATIVE_BASIS"))
    city.ok(read(city, "requester_swd", grants["G5"], "DATA_VERIFICATION"))
    masked = city.ok(read(city, "requester_jingxin", grants["G6"], "WORK_REFERENCE"))
    city.ok(
        read(
            city,
            "requester_jingxin",
            grants["G6"],
            "WORK_REFERENCE",
            filter={"division": "DEMO-FANGCHUAN"},
        )
    )
    city.ok(
        city.post(
            f"/v1/grants/{grants['G4']}/revoke", {"reason": "停止低保核查"}, who="approver_WJ"
        )
    )
    city.ok(city.get("/v1/access-trail", who="auditor"))
    return {"grants": grants, "masked": masked}


# ---- the test -------------------------------------------------------------------------------


def test_no_personal_field_in_logs_entries_chain_outbox_or_urls(
    city: ApiEnv, caplog: pytest.LogCaptureFixture
) -> None:
    urls: list[httpx.URL] = []
    city.client.event_hooks["request"].append(lambda request: urls.append(request.url))
    with every_logger_at_debug(caplog):
        ids = vetting_flow(city)
        shared = sharing_flow(city)
        report = city.relay()
        city.anchor()
    assert report.failed == []
    scan = Scan()

    # (a) every entry in the log.
    with city.ledger.engine.connect() as conn:
        leaves = conn.execute(sa.text("SELECT leaf_index, leaf_data FROM log_leaves")).all()
        outbox = conn.execute(sa.text("SELECT seq, kind, item_id, payload FROM chain_outbox")).all()
    for index, data in leaves:
        scan.raw("entry", f"log leaf {index}", bytes(data))
        scan.text("entry", f"log leaf {index}", bytes(data).decode())
    # (b) every log record, formatted and as its arguments (SQL parameters unshortened).
    for r in caplog.records:
        where = f"log record {r.name}:{r.levelname} {str(r.msg)[:60]!r}"
        scan.text("log", where, r.getMessage())
        scan.value("log", where, r.args)
        if r.exc_text:
            scan.text("log", where, r.exc_text)
    # (c) every transaction's calldata and every event on the chain.
    w3 = city.session.chain.w3
    transactions = 0
    for number in range(w3.eth.block_number + 1):
        # The block's transaction hashes, then each transaction as web3 formats it (the
        # eth-tester provider leaves a block's full transactions unformatted).
        for tx_hash in w3.eth.get_block(number)["transactions"]:
            assert isinstance(tx_hash, bytes)
            tx = w3.eth.get_transaction(tx_hash)
            where = f"block {number} tx {tx_hash.hex()}"
            transactions += 1
            scan.raw("chain", where + " input", bytes(tx["input"]))
            for log in w3.eth.get_transaction_receipt(tx_hash)["logs"]:
                at = f"{where} log {log['logIndex']}"
                scan.raw("chain", at + " data", bytes(log["data"]))
                for topic in log["topics"]:
                    scan.raw("chain", at + " topic", bytes(topic))
    # (d) the outbox: what is relayed.
    for seq, kind, item_id, payload in outbox:
        where = f"chain_outbox {seq} ({kind})"
        scan.text("outbox", where, str(item_id))
        scan.value("outbox", where, payload)
        scan.text("outbox", where, json.dumps(payload, ensure_ascii=True))
        scan.text("outbox", where, json.dumps(payload, ensure_ascii=False))
    # (e) every URL requested: paths and query strings.
    for url in urls:
        for form in (str(url), unquote(str(url)), unquote_plus(str(url))):
            scan.text("url", f"URL {url}", form)
    # The database: every column of every table holds the person only as ciphertext.
    tables = sa.inspect(city.ledger.engine).get_table_names()
    with city.ledger.engine.connect() as conn:
        for table in tables:
            result = conn.execute(sa.text(f"SELECT * FROM {table}"))
            columns = list(result.keys())
            for i, row in enumerate(result):
                for column, value in zip(columns, row, strict=True):
                    scan.value("db", f"table {table} row {i} column {column}", value)

    # The scan saw what it was meant to see, and found nothing.
    kinds = [json.loads(bytes(data))["kind"] for _, data in leaves]
    assert kinds.count("vetting.candidate.registered") == len(demo.DEMO_CANDIDATES) + 1
    assert kinds.count("sharing.rows.ingested") == len(demo.DEMO_DATASETS)
    assert kinds.count("sharing.access") == 4
    assert {kind for _, kind, _, _ in outbox} >= {"registration", "decision", "grant"}
    assert transactions > 5
    assert len(caplog.records) > 1000 and any(
        r.name.startswith("sqlalchemy.engine") for r in caplog.records
    )
    assert any("/v1/candidates/search" in str(u) for u in urls) and len(urls) > 100
    assert "sealed_data" in tables and "dataset_rows" in tables
    scan.assert_clean()

    # And the persons are there, sealed: the records open to them, the reads mask them.
    records = {key: view(city, cid, "org_admin")["record_id"] for key, cid in ids.items()}
    with city.ledger.engine.connect() as conn:
        for key, record in records.items():
            person = vault.unseal(conn, city.ledger.master, record)
            assert person is not None
            assert person["name"] == demo.DEMO_CANDIDATES[key].person["name"]
        sealed_rows = conn.execute(sa.text("SELECT count(*) FROM dataset_rows")).scalar_one()
    assert sealed_rows == len(demo.DEMO_DATASETS) * len(demo.PERSONS)
    first = next(r for r in shared["masked"]["rows"] if r["division"] == "DEMO-FANGCHUAN")
    assert first["values"]["name"] == "金**"
    assert first["values"]["id_number"] == "222404********0316"
