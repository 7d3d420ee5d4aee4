"""``ledger audit`` against a tampered database, on SQLite and PostgreSQL, without a chain.

A ledger of 700 records (some with sealed personal data, one erased) and three signed
checkpoints, so that full level-0 tiles and two versions of a level-1 tile are stored,
audits clean. Then the database is tampered with directly, as an attacker with SQL
access would: the append-only triggers dropped on SQLite, ``session_replication_role =
replica`` on PostgreSQL. Each change is reported with its finding code, the record ids
and leaf indices involved, and ``ledger audit`` exits 1.

The vetting, grant, access and chain-side cases are in ``tests/api/test_audit_api.py``
(they need the demo city and a chain); real anvil in ``tests/chain/test_audit_chain.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ledger import records
from ledger.audit import AuditReport, Finding, run_audit
from ledger.checkpoint import Checkpoint, generate_signer, sign_checkpoint
from ledger.cli import app
from ledger.config import Settings
from ledger.context import ChainDomain, Context
from ledger.runtime import Ledger
from ledger.units.service import authenticate, bootstrap

NOW = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
RECORDS = 700
SEALED = (5, 40, 300)  # record numbers written with personal data
ERASED = 40
CHECKPOINTS_AFTER = (100, 300)  # a checkpoint after these many records, and one at the end

runner = CliRunner()


@dataclass
class Audited:
    """A filled ledger: its settings, the ledger, and the leaf index of each record id."""

    settings: Settings
    ledger: Ledger
    env: dict[str, str]
    leaf_of: dict[str, int]
    ids: list[str]  # the general records, in order
    sealed: dict[int, str]  # record number -> id, for those with personal data
    checkpoint_sizes: list[int]

    @property
    def engine(self) -> sa.Engine:
        return self.ledger.engine

    def record_at(self, leaf: int) -> str:
        return next(r for r, i in self.leaf_of.items() if i == leaf)

    def audit(self) -> AuditReport:
        return run_audit(
            self.engine,
            verifier=self.ledger.signer.verifier(),
            origin=self.settings.log_origin,
            master=self.ledger.master,
        )

    def cli(self) -> tuple[int, dict[str, Any]]:
        result = runner.invoke(app, ["audit", "--no-chain", "--json"], env=self.env)
        return result.exit_code, json.loads(result.stdout)

    def tamper(self, *statements: str, **params: Any) -> None:
        """Run SQL with the append-only protections off, as an attacker would."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                triggers = conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                ).scalars()
                for name in list(triggers):
                    conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            else:
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for statement in statements:
                conn.execute(sa.text(statement), params)

    def row(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).one()


@pytest.fixture
def filled(database_url: str, tmp_path: Path) -> Iterator[Audited]:
    env = {"LEDGER_DATA_DIR": str(tmp_path / "var"), "LEDGER_DATABASE_URL": database_url}
    settings = Settings.from_env(env)
    ledger = Ledger.open(settings)
    domain = ChainDomain(1, "0x" + "11" * 20, "0x" + "22" * 20)
    with ledger.engine.begin() as conn:
        issued = bootstrap(conn, ledger.master, now=NOW)
        assert issued is not None
    ids: list[str] = []
    sealed: dict[int, str] = {}
    sizes = []
    for n in range(0, RECORDS, 100):
        with ledger.engine.begin() as conn:
            ctx = Context(conn, authenticate(conn, issued.token), NOW, ledger.master, domain)
            items = [
                records.NewRecord(
                    "record.village_notice",
                    {"n": i, "title": "村务公开"},
                    {"name": "金明哲", "phone": "0433-7500000"} if i in SEALED else None,
                )
                for i in range(n, min(RECORDS, n + 100))
            ]
            written = records.create(ctx, items)
        ids += [w.id for w in written]
        sealed |= {i: w.id for i, w in zip(range(n, n + 100), written, strict=True) if i in SEALED}
        if n + 100 in CHECKPOINTS_AFTER:
            sizes.append(ledger.checkpoint().checkpoint.size)
    with ledger.engine.begin() as conn:
        ctx = Context(conn, authenticate(conn, issued.token), NOW, ledger.master, domain)
        records.erase(ctx, sealed[ERASED], reason="PIPL Art. 47 request")
    sizes.append(ledger.checkpoint().checkpoint.size)
    with ledger.engine.connect() as conn:
        leaf_of = {
            r.id: int(r.leaf_index)
            for r in conn.execute(sa.text("SELECT id, leaf_index FROM records"))
        }
    try:
        yield Audited(settings, ledger, env, leaf_of, ids, sealed, sizes)
    finally:
        ledger.close()


def only(report: AuditReport, code: str) -> list[Finding]:
    found = [f for f in report.findings if f.code == code]
    assert found, f"no {code} finding in {sorted(report.codes())}"
    return found


def assert_reported(audited: Audited, code: str, *, records: set[str], leaves: set[int]) -> None:
    """The CLI exits 1 and names ``records`` and ``leaves`` in a ``code`` finding."""
    exit_code, out = audited.cli()
    assert exit_code == 1, out
    assert out["ok"] is False
    matching = [f for f in out["findings"] if f["code"] == code]
    assert matching, f"no {code} in {[f['code'] for f in out['findings']]}"
    named_records = {r for f in matching for r in f["record_ids"]}
    named_leaves = {i for f in matching for i in f["leaf_indices"]}
    assert records <= named_records, (records, named_records)
    assert leaves <= named_leaves, (leaves, named_leaves)


# ---- clean -------------------------------------------------------------------------------


def test_a_clean_ledger_audits_clean(filled: Audited) -> None:
    report = filled.audit()
    assert report.ok, [f.to_json() for f in report.errors]
    assert report.codes() == {"chain_not_checked"}
    assert report.checked["leaves"] == report.checked["records"] == len(filled.leaf_of)
    assert report.checked["checkpoints"] == len(filled.checkpoint_sizes) == 3
    assert report.checked["sealed_records_opened"] == len(SEALED) - 1  # one is erased
    exit_code, out = filled.cli()
    assert exit_code == 0, out
    assert out["ok"] is True and out["findings"] == []
    assert [n["code"] for n in out["notices"]] == ["chain_not_checked"]


def test_the_text_output_names_what_it_found(filled: Audited) -> None:
    result = runner.invoke(app, ["audit", "--no-chain"], env=filled.env)
    assert result.exit_code == 0, result.output
    assert "clean: nothing found" in result.stdout
    victim = filled.ids[7]
    leaf = filled.leaf_of[victim]
    filled.tamper("DELETE FROM records WHERE id = :id", id=victim)
    result = runner.invoke(app, ["audit", "--no-chain"], env=filled.env)
    assert result.exit_code == 1
    assert f"ERROR leaf_without_record: leaf {leaf} ({victim}" in result.stdout
    assert f"records {victim}; leaves {leaf}" in result.stdout


def test_usage_errors_exit_2(filled: Audited) -> None:
    result = runner.invoke(app, ["audit", "--rpc", "http://x", "--no-chain"], env=filled.env)
    assert result.exit_code == 2
    assert runner.invoke(app, ["audit", "--bogus"], env=filled.env).exit_code == 2


# ---- the entries --------------------------------------------------------------------------


def _leaf_data(audited: Audited, leaf: int) -> bytes:
    return bytes(audited.row("SELECT leaf_data FROM log_leaves WHERE leaf_index = :i", i=leaf)[0])


def _set_leaf(audited: Audited, leaf: int, data: bytes, *, rehash: bool = False) -> None:
    audited.tamper(
        "UPDATE log_leaves SET leaf_data = :d"
        + (", leaf_hash = :h" if rehash else "")
        + " WHERE leaf_index = :i",
        d=data,
        h=hashlib.sha256(b"\x00" + data).digest(),
        i=leaf,
    )


def test_a_flipped_byte_in_a_leaf(filled: Audited) -> None:
    victim = filled.ids[10]
    leaf = filled.leaf_of[victim]
    data = bytearray(_leaf_data(filled, leaf))
    data[len(data) // 2] ^= 0x01
    _set_leaf(filled, leaf, bytes(data))
    report = filled.audit()
    (finding,) = only(report, "leaf_hash_mismatch")
    assert finding.record_ids == (victim,) and finding.leaf_indices == (leaf,)
    assert_reported(filled, "leaf_hash_mismatch", records={victim}, leaves={leaf})


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(b'"n":11,', b'"n":12,', id="body"),
        pytest.param(b'"unit":"SZ"', b'"unit":"GA"', id="author"),
    ],
)
def test_a_changed_entry_body_or_author(filled: Audited, old: bytes, new: bytes) -> None:
    victim = filled.ids[11]
    leaf = filled.leaf_of[victim]
    data = _leaf_data(filled, leaf)
    assert old in data
    _set_leaf(filled, leaf, data.replace(old, new))
    assert only(filled.audit(), "leaf_hash_mismatch")[0].leaf_indices == (leaf,)
    assert_reported(filled, "leaf_hash_mismatch", records={victim}, leaves={leaf})


def test_a_changed_seal(filled: Audited) -> None:
    victim = filled.sealed[SEALED[0]]
    leaf = filled.leaf_of[victim]
    data = _leaf_data(filled, leaf)
    start = data.index(b'"sealed":"sha256:') + len(b'"sealed":"sha256:')
    digit = b"0" if data[start : start + 1] != b"0" else b"1"
    _set_leaf(filled, leaf, data[:start] + digit + data[start + 1 :])
    assert_reported(filled, "leaf_hash_mismatch", records={victim}, leaves={leaf})
    # The sealed data no longer opens to the entry's commitment either.
    (finding,) = only(filled.audit(), "sealed_commitment_mismatch")
    assert finding.record_ids == (victim,)


def test_an_author_rewritten_with_its_leaf_hash(filled: Audited) -> None:
    """Data and hash changed together: the checkpoints, tiles and records catch it."""
    victim = filled.ids[3]
    leaf = filled.leaf_of[victim]
    data = _leaf_data(filled, leaf)
    _set_leaf(filled, leaf, data.replace(b'"unit":"SZ"', b'"unit":"GA"'), rehash=True)
    report = filled.audit()
    assert {"checkpoint_root_mismatch", "tile_mismatch", "record_leaf_mismatch"} <= report.codes()
    (mismatch,) = only(report, "record_leaf_mismatch")
    assert mismatch.record_ids == (victim,) and mismatch.leaf_indices == (leaf,)
    assert mismatch.evidence["differs"] == {"unit": ["SZ", "GA"]}
    assert leaf in only(report, "tile_mismatch")[0].leaf_indices
    roots = only(report, "checkpoint_root_mismatch")
    assert {f.evidence["tree_size"] for f in roots} == set(filled.checkpoint_sizes)
    assert roots[0].evidence["changed_range"] == [0, filled.checkpoint_sizes[0]]
    assert_reported(filled, "record_leaf_mismatch", records={victim}, leaves={leaf})


def test_a_changed_leaf_hash(filled: Audited) -> None:
    victim = filled.ids[200]
    leaf = filled.leaf_of[victim]
    filled.tamper(
        "UPDATE log_leaves SET leaf_hash = :h WHERE leaf_index = :i",
        h=hashlib.sha256(b"forged").digest(),
        i=leaf,
    )
    report = filled.audit()
    (finding,) = only(report, "leaf_hash_mismatch")
    assert finding.leaf_indices == (leaf,) and finding.record_ids == (victim,)
    covering = [s for s in filled.checkpoint_sizes if s > leaf]
    roots = only(report, "checkpoint_root_mismatch")
    assert {f.evidence["tree_size"] for f in roots} == set(covering)
    assert all(f.leaf_indices == (leaf,) for f in roots)
    tile = only(report, "tile_mismatch")[0]
    assert tile.evidence["node"] == [0, leaf]
    assert_reported(filled, "checkpoint_root_mismatch", records=set(), leaves={leaf})


def test_two_leaves_swapped(filled: Audited) -> None:
    a, b = filled.ids[20], filled.ids[21]
    ia, ib = filled.leaf_of[a], filled.leaf_of[b]
    filled.tamper(
        "UPDATE log_leaves SET entry_id = 'swap', leaf_index = 1000000 WHERE leaf_index = :a",
        "UPDATE log_leaves SET leaf_index = :a WHERE leaf_index = :b",
        "UPDATE log_leaves SET entry_id = :ida, leaf_index = :b WHERE leaf_index = 1000000",
        a=ia,
        b=ib,
        ida=a,
    )
    report = filled.audit()
    mismatches = only(report, "record_leaf_mismatch")
    assert {f.leaf_indices for f in mismatches} == {(ia,), (ib,)}
    assert {r for f in mismatches for r in f.record_ids} == {a, b}
    assert "checkpoint_root_mismatch" in report.codes()
    assert_reported(filled, "record_leaf_mismatch", records={a, b}, leaves={ia, ib})


def test_a_deleted_leaf_leaves_a_gap(filled: Audited) -> None:
    victim = filled.ids[600]
    leaf = filled.leaf_of[victim]
    filled.tamper("DELETE FROM log_leaves WHERE leaf_index = :i", i=leaf)
    report = filled.audit()
    (gap,) = only(report, "leaf_index_gap")
    assert gap.evidence["missing"] == [leaf, leaf + 1] and gap.leaf_indices == (leaf,)
    assert only(report, "record_without_leaf")[0].record_ids == (victim,)
    assert "log_counter_mismatch" in report.codes()
    assert_reported(filled, "record_without_leaf", records={victim}, leaves={leaf})


# ---- checkpoints and tiles -----------------------------------------------------------------


def test_a_changed_checkpoint_root(filled: Audited) -> None:
    size = filled.checkpoint_sizes[1]
    filled.tamper(
        "UPDATE log_checkpoints SET root_hash = :r WHERE tree_size = :s",
        r=hashlib.sha256(b"another history").digest(),
        s=size,
    )
    report = filled.audit()
    (row,) = only(report, "checkpoint_row_mismatch")
    assert row.evidence["tree_size"] == size
    exit_code, out = filled.cli()
    assert exit_code == 1 and {f["code"] for f in out["findings"]} == {"checkpoint_row_mismatch"}


def test_a_checkpoint_rewritten_without_the_log_key(filled: Audited) -> None:
    size = filled.checkpoint_sizes[0]
    forged = sign_checkpoint(
        Checkpoint(filled.settings.log_origin, size, hashlib.sha256(b"x").digest()),
        generate_signer(filled.settings.log_origin),
    )
    filled.tamper(
        "UPDATE log_checkpoints SET note = :n, root_hash = :r WHERE tree_size = :s",
        n=forged,
        r=hashlib.sha256(b"x").digest(),
        s=size,
    )
    report = filled.audit()
    assert only(report, "checkpoint_signature_invalid")[0].evidence["tree_size"] == size
    root = only(report, "checkpoint_root_mismatch")[0]
    assert root.evidence["tree_size"] == size
    assert_reported(filled, "checkpoint_signature_invalid", records=set(), leaves=set())


def test_an_altered_stored_node_hash(filled: Audited) -> None:
    blob = bytes(filled.row("SELECT hashes FROM log_tiles WHERE level = 0 AND tile_index = 1")[0])
    forged = blob[: 32 * 5] + hashlib.sha256(b"node").digest() + blob[32 * 6 :]
    filled.tamper("UPDATE log_tiles SET hashes = :h WHERE level = 0 AND tile_index = 1", h=forged)
    report = filled.audit()
    (tile,) = only(report, "tile_mismatch")
    assert tile.evidence["node"] == [0, 256 + 5] and 256 + 5 in tile.leaf_indices
    assert_reported(filled, "tile_mismatch", records=set(), leaves={256 + 5})


def test_an_altered_older_tile_version(filled: Audited) -> None:
    """Level-1 tile 0 was stored at width 1 (size 300ish) and 2 (size 700ish): the older
    one serves proofs for the older checkpoints."""
    widths = filled.row(
        "SELECT min(width), max(width) FROM log_tiles WHERE level = 1 AND tile_index = 0"
    )
    assert tuple(widths) == (1, 2)
    filled.tamper(
        "UPDATE log_tiles SET hashes = :h WHERE level = 1 AND tile_index = 0 AND width = 1",
        h=hashlib.sha256(b"old").digest(),
    )
    (tile,) = only(filled.audit(), "tile_mismatch")
    assert (tile.evidence["level"], tile.evidence["width"]) == (1, 1)
    assert tile.leaf_indices == (0, 255)
    assert_reported(filled, "tile_mismatch", records=set(), leaves={0, 255})


# ---- records and personal data --------------------------------------------------------------


def test_a_deleted_record(filled: Audited) -> None:
    victim = filled.ids[42]
    leaf = filled.leaf_of[victim]
    filled.tamper("DELETE FROM records WHERE id = :id", id=victim)
    (finding,) = only(filled.audit(), "leaf_without_record")
    assert finding.record_ids == (victim,) and finding.leaf_indices == (leaf,)
    assert_reported(filled, "leaf_without_record", records={victim}, leaves={leaf})


def test_an_inserted_record(filled: Audited) -> None:
    size = len(filled.leaf_of)
    filled.tamper(
        "INSERT INTO records (id, kind, unit_code, leaf_index, created_at) "
        "VALUES ('forged', 'record', 'SZ', :i, :t)",
        i=size + 3,
        t=NOW,
    )
    (finding,) = only(filled.audit(), "record_without_leaf")
    assert finding.record_ids == ("forged",) and finding.leaf_indices == (size + 3,)
    assert_reported(filled, "record_without_leaf", records={"forged"}, leaves={size + 3})


def test_an_inserted_leaf(filled: Audited) -> None:
    """A leaf appended behind the sequencer's back, with its records row."""
    size = len(filled.leaf_of)
    data = _leaf_data(filled, filled.leaf_of[filled.ids[0]]).replace(
        filled.ids[0].encode(), b"forged-0000"
    )
    filled.tamper(
        "INSERT INTO log_leaves (leaf_index, entry_id, leaf_data, leaf_hash, sequenced_at) "
        "VALUES (:i, 'forged-0000', :d, :h, :t)",
        "INSERT INTO records (id, kind, unit_code, leaf_index, created_at) "
        "VALUES ('forged-0000', 'record.village_notice', 'SZ', :i, :t)",
        i=size,
        d=data,
        h=hashlib.sha256(b"\x00" + data).digest(),
        t=NOW,
    )
    report = filled.audit()
    counter = only(report, "log_counter_mismatch")[0]
    assert counter.evidence["leaves"] == size + 1 and size in counter.leaf_indices
    assert_reported(filled, "log_counter_mismatch", records=set(), leaves={size})


def test_a_data_key_destroyed_without_a_tombstone(filled: Audited) -> None:
    victim = filled.sealed[SEALED[2]]
    # data_keys is erasable: the database lets anyone delete from it.
    with filled.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM data_keys WHERE record_id = :id"), {"id": victim})
    (finding,) = only(filled.audit(), "data_key_missing")
    assert finding.record_ids == (victim,)
    assert finding.leaf_indices == (filled.leaf_of[victim],)
    assert_reported(filled, "data_key_missing", records={victim}, leaves={filled.leaf_of[victim]})


def test_an_erasure_whose_tombstone_is_gone(filled: Audited) -> None:
    erased = filled.sealed[ERASED]
    tombstone = filled.row(
        "SELECT tombstone_record_id FROM erasures WHERE record_id = :id", id=erased
    )[0]
    filled.tamper("DELETE FROM records WHERE id = :id", id=tombstone)
    report = filled.audit()
    assert only(report, "erasure_without_tombstone")[0].record_ids == (erased, tombstone)
    assert only(report, "leaf_without_record")[0].record_ids == (tombstone,)
    assert_reported(filled, "erasure_without_tombstone", records={erased, tombstone}, leaves=set())


def test_tampered_sealed_data(filled: Audited) -> None:
    victim = filled.sealed[SEALED[0]]
    (ciphertext,) = filled.row(
        "SELECT ciphertext FROM sealed_data WHERE record_id = :id", id=victim
    )
    flipped = bytes(ciphertext)[:-1] + bytes([bytes(ciphertext)[-1] ^ 1])
    filled.tamper(
        "UPDATE sealed_data SET ciphertext = :c WHERE record_id = :id", c=flipped, id=victim
    )
    (finding,) = only(filled.audit(), "sealed_commitment_mismatch")
    assert finding.record_ids == (victim,) and "does not open" in finding.message
    assert_reported(filled, "sealed_commitment_mismatch", records={victim}, leaves=set())


# ---- scale --------------------------------------------------------------------------------


def test_findings_are_capped_per_code() -> None:
    from ledger.audit.findings import Findings

    findings = Findings(limit_per_code=3)
    for i in range(5):
        findings.add("leaf_hash_mismatch", f"leaf {i}", leaf_indices=[i])
    assert len(findings.items) == 3 and findings.dropped == {"leaf_hash_mismatch": 2}
    report = AuditReport(findings.items, {}, None, 0.0, dict(findings.dropped))
    assert not report.ok and report.to_json()["dropped"] == {"leaf_hash_mismatch": 2}


def test_an_unparsable_leaf_and_a_changed_entry_id(filled: Audited) -> None:
    a, b = filled.ids[30], filled.ids[31]
    ia, ib = filled.leaf_of[a], filled.leaf_of[b]
    _set_leaf(filled, ia, _leaf_data(filled, ia) + b" ", rehash=True)  # not canonical JSON
    filled.tamper("UPDATE log_leaves SET entry_id = 'renamed' WHERE leaf_index = :i", i=ib)
    report = filled.audit()
    (bad,) = only(report, "leaf_unparsable")
    assert bad.leaf_indices == (ia,) and "canonical" in bad.evidence["reason"]
    (renamed,) = only(report, "leaf_entry_id_mismatch")
    assert renamed.leaf_indices == (ib,) and set(renamed.record_ids) == {"renamed", b}
    assert_reported(filled, "leaf_unparsable", records={a}, leaves={ia})


def test_parallel_and_batched_scans_find_the_same(
    filled: Audited, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker-process parser and small batches (several merges with records, roots
    cut inside and across batches) give the report of one inline pass."""
    from ledger.audit import log_checks

    victim = filled.ids[500]
    data = bytearray(_leaf_data(filled, filled.leaf_of[victim]))
    data[3] ^= 0x20
    _set_leaf(filled, filled.leaf_of[victim], bytes(data))
    filled.tamper("DELETE FROM records WHERE id = :id", id=filled.ids[260])
    inline = filled.audit()
    monkeypatch.setattr(log_checks, "PARALLEL_MIN", 1)
    parallel = run_audit(
        filled.engine,
        verifier=filled.ledger.signer.verifier(),
        origin=filled.settings.log_origin,
        master=filled.ledger.master,
        batch=256,
    )
    assert {"leaf_hash_mismatch", "leaf_without_record"} <= inline.codes()
    assert [f.to_json() for f in parallel.findings] == [f.to_json() for f in inline.findings]
    assert parallel.checked == inline.checked


def test_every_finding_code_is_documented() -> None:
    import re

    from ledger.audit.findings import CODES

    source = "".join(
        p.read_text() for p in Path(run_audit.__code__.co_filename).parent.glob("*.py")
    )
    used = set(re.findall(r'add\(\s*"([a-z_]+)"', source))
    assert used and used <= set(CODES), used - set(CODES)
    assert set(CODES) - used == set(), "documented codes nothing reports"


def test_the_readme_tamper_text_replaced_in_a_leaf(filled: Audited) -> None:
    """The README's tour: ``replace()`` on the leaf's bytes in SQL. On SQLite that stores
    text in the blob column; the audit reads it as its UTF-8 bytes and names the leaf."""
    victim = filled.ids[12]
    leaf = filled.leaf_of[victim]
    sql = (
        "UPDATE log_leaves SET leaf_data = replace(leaf_data, '村务公开', '村务隐藏') "
        "WHERE entry_id = :id"
        if filled.engine.dialect.name == "sqlite"
        else "UPDATE log_leaves SET leaf_data = convert_to(replace(convert_from(leaf_data, "
        "'UTF8'), '村务公开', '村务隐藏'), 'UTF8') WHERE entry_id = :id"
    )
    filled.tamper(sql, id=victim)
    report = filled.audit()
    assert {f.code for f in report.errors} == {"leaf_hash_mismatch"}, report.to_json()
    assert_reported(filled, "leaf_hash_mismatch", records={victim}, leaves={leaf})
