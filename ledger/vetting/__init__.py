"""Two-committee (村/社区“两委”) candidate vetting: rounds, candidates, the three stages
(预审 → 初审 → 联审), the negative list, and role-shaped views. The rules mirror
``contracts/VettingRegistry.sol`` through :mod:`ledger.chain.vetting`."""

from ledger.vetting.state import candidate_chain_id, round_id

__all__ = ["candidate_chain_id", "round_id"]
