"""The committed artifacts in contracts/build are exactly what the pinned compiler makes."""

from __future__ import annotations

import json

from ledger.chain.compiler import CONTRACTS, SOLC_VERSION, compile_contracts, render

BUILD = CONTRACTS / "build"


def test_committed_artifacts_match_a_fresh_compile_byte_for_byte() -> None:
    fresh = {f"{name}.json": render(a) for name, a in compile_contracts().items()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in BUILD.glob("*.json")}
    assert sorted(committed) == sorted(fresh), "run scripts/compile_contracts.py"
    for name, text in fresh.items():
        assert committed[name] == text, f"contracts/build/{name} is stale"


def test_artifacts_record_the_pinned_compiler() -> None:
    paths = sorted(BUILD.glob("*.json"))
    names = {p.stem for p in paths}
    assert {"LogAnchor", "UnitRegistry", "VettingRegistry", "GrantRegistry"} <= names
    for path in paths:
        artifact = json.loads(path.read_text(encoding="utf-8"))
        assert artifact["compiler"]["version"] == SOLC_VERSION
        assert json.loads(artifact["metadata"])["compiler"]["version"].startswith(SOLC_VERSION)
        assert artifact["compiler"]["settings"]["evmVersion"] == "prague"
