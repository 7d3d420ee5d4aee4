"""civic-ledger: a verifiable, chain-anchored ledger for grassroots governance records.

The core package. Pure, I/O-free parts (``entries``, ``merkle``, ``checkpoint``) sit
beside the parts that touch storage (``store``, ``log``) and, later, the chain
(``chain``). ``docs/architecture.md`` is the map.
"""

__version__ = "0.1.0"
