"""The ``ledger`` command. One module per command group; each command forwards to a
keyword-only ``_run`` that returns a JSON-able result, printed as text or ``--json``.

Exit codes: 0 success; 1 a civic-ledger error (its code is printed); 2 bad usage.
"""

from __future__ import annotations

import typer

from ledger.cli import anchor, audit, demo, keys, log, receipt, server, units, verify

app = typer.Typer(
    name="ledger",
    help="civic-ledger: a verifiable, chain-anchored ledger of grassroots governance records.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("init")(server.init)
app.command("serve")(server.serve)
app.command("anchor")(anchor.anchor)
app.command("receipt")(receipt.receipt)
app.command("verify")(verify.verify)
app.command("demo")(demo.demo)
app.command("audit")(audit.audit)
app.add_typer(log.app, name="log")
app.add_typer(units.app, name="units")
app.add_typer(keys.app, name="keys")


def main() -> None:
    app()
