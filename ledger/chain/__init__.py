"""Everything that touches the EVM chain. The only package that imports web3.

- :mod:`ledger.chain.compiler` — compiling ``contracts/`` (build time only).
- :mod:`ledger.chain.client` — a connection and our signing account; loads the
  committed artifacts (``contracts/build``) at run time.
- :mod:`ledger.chain.node` — the embedded anvil; :mod:`ledger.chain.session` — the
  chain a ledger uses; :mod:`ledger.chain.deploy` — our contracts on it.
- :mod:`ledger.chain.anchorer`, :mod:`ledger.chain.relayer` — what we send.
- :mod:`ledger.chain.vetting`, :mod:`ledger.chain.grants`,
  :mod:`ledger.chain.signatures` — the registries' EIP-712 messages and rules.
"""
