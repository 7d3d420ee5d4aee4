#!/usr/bin/env python3
"""Compile contracts/ and write the artifacts the ledger runs from (contracts/build/*.json).

Run after changing a contract: `.venv/bin/python scripts/compile_contracts.py`.
`--check` exits 1 when the committed artifacts differ from a fresh compile.
"""

from __future__ import annotations

import argparse
import sys

from ledger.chain.compiler import CONTRACTS, compile_contracts, render

BUILD = CONTRACTS / "build"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    artifacts = {f"{name}.json": render(a) for name, a in compile_contracts().items()}
    existing = {p.name: p.read_text(encoding="utf-8") for p in BUILD.glob("*.json")}
    if args.check:
        stale = sorted(
            n for n in artifacts.keys() | existing.keys() if artifacts.get(n) != existing.get(n)
        )
        for name in stale:
            print(f"differs: contracts/build/{name}", file=sys.stderr)
        return 1 if stale else 0
    BUILD.mkdir(parents=True, exist_ok=True)
    for name in existing.keys() - artifacts.keys():
        (BUILD / name).unlink()
    for name, text in artifacts.items():
        (BUILD / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(artifacts)} artifacts to contracts/build/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
