"""``ledger demo``: load the Hunchun demo (DOMAIN.md §7) into the configured ledger."""

from __future__ import annotations

import json
from typing import Any

from ledger.auth import Caller, Role
from ledger.cli.operator import OPERATOR
from ledger.cli.output import JsonOption, emit, run
from ledger.config import Settings
from ledger.context import ChainDomain
from ledger.runtime import Ledger
from ledger.units.service import PLATFORM_UNIT

KEYS_FILE = "demo-keys.json"
"""The demo principals' API keys, in the data dir (mode 0600)."""


def demo(as_json: JsonOption = False) -> None:
    """Load the Hunchun demo (DOMAIN.md §7) into the configured ledger, once.

    Its units; a principal per role (API keys written to <data dir>/demo-keys.json, mode
    0600, printed only with --json); the 2026 round with its six candidates taken to their
    outcomes; six datasets with rows and the six grants; then relayed and anchored. Through
    the services, each act by its principal, the dates moved to follow today. A ledger the
    demo is in refuses a second load (demo_loaded).
    """
    result = run(as_json, lambda: _run_demo(settings=Settings.from_env()))
    emit(result, as_json=as_json, text=_describe)


def _describe(r: dict[str, Any]) -> str:
    lines = [
        f"demo loaded: {r['units']} units, {len(r['keys'])} principals",
        f"API keys:     {r['keys_file']} (mode 0600)",
        f"round:        {r['round']} (election day {r['election_day']})",
    ]
    for key, c in r["candidates"].items():
        lines.append(f"  {key}  {c['village']:<15} {c['outcome']:<9} {c['id']}")
    for code, rows in r["datasets"].items():
        lines.append(f"dataset:      {code} ({rows} rows)")
    for name, g in r["grants"].items():
        lines.append(
            f"  {name}  {g['dataset']:<16} -> {g['grantee']:<10} {g['status']:<15} {g['id']}"
        )
    lines.append(f"relayed:      {r['relayed']} messages to chain {r['chain_id']}")
    for reason in r["relay_refused"]:
        lines.append(f"  refused:    {reason}")
    anchored = r["anchored"]
    if anchored:
        lines.append(f"anchored:     tree size {anchored['tree_size']} ({anchored['tx_hash']})")
    if r["admin_key_file"]:
        lines.append(f"admin key:    {r['admin_key_file']} (a new platform administrator)")
    elif r["admin_api_key"]:  # made now and written nowhere: shown once, as `ledger init` does
        lines.append(f"admin key:    {r['admin_api_key']} (shown once)")
    return "\n".join(lines)


def _run_demo(*, settings: Settings) -> dict[str, Any]:
    from ledger import demo as data
    from ledger.bootstrap import initialise
    from ledger.chain.deploy import GRANT_REGISTRY, VETTING_REGISTRY
    from ledger.chain.session import open_chain
    from ledger.demo_loader import check_not_loaded, demo_units, load_acts, load_units
    from ledger.files import write_private

    ledger = Ledger.open(settings)
    try:
        done = initialise(ledger)
        with ledger.engine.connect() as conn:
            check_not_loaded(conn)  # before starting a chain for nothing
        with open_chain(settings, ledger.engine, ledger.signer.verifier()) as session:
            deployed = session.contracts.deployments
            domain = ChainDomain(
                session.chain.chain_id,
                deployed[VETTING_REGISTRY].address,
                deployed[GRANT_REGISTRY].address,
            )
            operator = Caller(OPERATOR, PLATFORM_UNIT[0], Role.PLATFORM_ADMIN, "cli", None)
            keys = load_units(ledger.engine, ledger.master, domain, operator)
            # No demo unit existed, so a keys file left here is from an earlier database.
            keys_file = settings.data_dir / KEYS_FILE
            keys_file.unlink(missing_ok=True)
            write_private(keys_file, json.dumps(keys, ensure_ascii=False, indent=2) + "\n")
            loaded = load_acts(ledger.engine, ledger.master, domain, keys)
            report = session.relayer.relay_outbox()
            ledger.checkpoint()
            anchor = session.anchorer.anchor_latest()
    finally:
        ledger.close()
    return {
        "units": len(demo_units()),
        "keys_file": str(keys_file),
        "keys": keys,
        "round": loaded.round_code,
        "election_day": loaded.election_day,
        "candidates": {
            key: {
                "id": cid,
                "village": data.DEMO_CANDIDATES[key].village,
                "outcome": loaded.outcomes[key],
            }
            for key, cid in loaded.candidates.items()
        },
        "datasets": loaded.datasets,
        "grants": {
            name: {
                "id": gid,
                "dataset": data.DEMO_GRANTS[name].dataset,
                "grantee": data.DEMO_GRANTS[name].requester,
                "status": loaded.grant_status[name],
            }
            for name, gid in loaded.grants.items()
        },
        "chain_id": domain.chain_id,
        "relayed": len(report.landed),
        "relay_refused": [reason for _, reason in report.failed],
        "anchored": {"tree_size": anchor.tree_size, "tx_hash": anchor.tx_hash} if anchor else None,
        "admin_api_key": done.admin_key,
        "admin_key_file": str(done.key_file) if done.key_file else None,
    }
