"""End-to-end tests: the real service and anvil as subprocesses, the CLI in others."""
