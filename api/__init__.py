"""The HTTP API of civic-ledger (FastAPI). ``api.main.create_app`` builds it."""
