"""Compile the Solidity contracts with py-solc-x, pinned version and settings.

Build-time only: running the ledger uses the committed artifacts in
``contracts/build`` (loaded by :func:`ledger.chain.client.load_artifact`), so no compiler is
needed on a server. ``scripts/compile_contracts.py`` writes them; a test
recompiles and asserts the committed files match byte for byte.

The compiler is a native ``solc`` of exactly :data:`SOLC_VERSION` when one is
installed (on PATH or in py-solc-x's folder), else the npm ``solc`` package
through ``scripts/solcjs-shim``. Both produce the same bytecode and metadata.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import solcx

from ledger.errors import LedgerError

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
NODE_MODULES = ROOT / "node_modules"
SHIM = ROOT / "scripts" / "solcjs-shim"

SOLC_VERSION = "0.8.37"
EVM_VERSION = "prague"  # the newest fork py-evm (eth-tester) runs
SETTINGS: dict[str, Any] = {
    "evmVersion": EVM_VERSION,
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": False,
    "metadata": {"bytecodeHash": "ipfs", "appendCBOR": True},
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}
    },
}
REMAPPINGS = {"@openzeppelin/contracts/": "node_modules/@openzeppelin/contracts/"}

_IMPORT = re.compile(r'^\s*import\s+(?:[^"\']*\sfrom\s+)?["\']([^"\']+)["\']\s*;', re.MULTILINE)


class CompilerError(LedgerError):
    code = "compiler_error"


def find_solc() -> Path:
    """A native solc of :data:`SOLC_VERSION`, else the solcjs shim."""
    candidates: list[Path] = []
    on_path = shutil.which("solc")
    if on_path:
        candidates.append(Path(on_path))
    # py-solc-x has not installed that version: fine, there may be others.
    with contextlib.suppress(Exception):
        candidates.append(Path(solcx.install.get_executable(SOLC_VERSION)))
    for path in candidates:
        # An unusable or other-version binary is just not a candidate.
        with contextlib.suppress(Exception):
            if str(solcx.wrapper.get_solc_version(path)).startswith(SOLC_VERSION):
                return path
    if not (NODE_MODULES / "solc" / "solc.js").exists():
        raise CompilerError(
            f"no solc {SOLC_VERSION}: install it, or run scripts/setup for the npm solc package"
        )
    return SHIM


def source_units(entry_points: list[str]) -> dict[str, str]:
    """Source unit name → content, for the entry points and everything they import."""
    sources: dict[str, str] = {}
    pending = list(entry_points)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        text = _read_unit(unit)
        sources[unit] = text
        for imported in _IMPORT.findall(text):
            pending.append(_resolve(unit, imported))
    return dict(sorted(sources.items()))


def _read_unit(unit: str) -> str:
    for prefix, target in REMAPPINGS.items():
        if unit.startswith(prefix):
            return (ROOT / target / unit[len(prefix) :]).read_text(encoding="utf-8")
    return (ROOT / unit).read_text(encoding="utf-8")


def _resolve(importer: str, imported: str) -> str:
    if not imported.startswith("."):
        return imported
    parts = importer.split("/")[:-1]
    for piece in imported.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def entry_points() -> list[str]:
    """Every ``.sol`` file under ``contracts/`` (not the build folder)."""
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in CONTRACTS.rglob("*.sol")
        if "build" not in p.relative_to(CONTRACTS).parts
    )


def compile_contracts(units: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Compile ``contracts/`` (or only ``units`` and what they import).

    Returns contract name → artifact (abi, bytecode, deployed bytecode, metadata).
    """
    sources = source_units(units if units is not None else entry_points())
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SETTINGS,
    }
    try:
        output = solcx.compile_standard(standard_input, solc_binary=find_solc(), allow_empty=False)
    except solcx.exceptions.SolcError as exc:
        raise CompilerError(f"solc failed: {exc}") from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilerError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    artifacts: dict[str, dict[str, Any]] = {}
    requested = set(units or ())
    for unit, contracts in output["contracts"].items():
        if not (unit.startswith("contracts/") or unit in requested):
            continue  # libraries we import are compiled into ours, not shipped
        for name, out in contracts.items():
            artifacts[name] = {
                "contractName": name,
                "sourceName": unit,
                "compiler": {"version": SOLC_VERSION, "settings": SETTINGS},
                "abi": out["abi"],
                "bytecode": "0x" + out["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
                "metadata": out["metadata"],
            }
    return dict(sorted(artifacts.items()))


def render(artifact: dict[str, Any]) -> str:
    """The committed text of an artifact: stable key order, a final newline."""
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"
