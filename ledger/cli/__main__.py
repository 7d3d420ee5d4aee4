"""``python -m ledger.cli`` runs the ``ledger`` command."""

from ledger.cli import main

main()
