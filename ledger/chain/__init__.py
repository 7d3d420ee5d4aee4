"""Everything that touches the EVM chain. The only package that imports web3.

- :mod:`ledger.chain.compiler` — compiling ``contracts/`` (build time only).
- :mod:`ledger.chain.artifacts` — the committed ABI and bytecode, loaded at run time.
"""
