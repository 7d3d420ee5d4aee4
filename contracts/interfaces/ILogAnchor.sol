// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title The on-chain anchor of the Merkle log's tree heads
/// @notice The log's operator publishes its signed checkpoints here: a tree size and the
/// RFC 9162 root hash of the log's first `treeSize` entries. A new head is accepted only
/// with a consistency proof (RFC 9162 §2.1.4) from the current head, so the anchored
/// history can be extended but never rewritten, whoever holds the anchoring key.
/// An auditor checks a receipt's checkpoint against {rootAt} on any chain node.
interface ILogAnchor {
    /// @notice An anchor at tree size 0: the empty tree is never anchored.
    error LogAnchorZeroTreeSize(bytes32 rootHash);
    /// @notice A zero root hash, which no tree has (SHA-256 never gives it in practice);
    /// {rootAt} uses zero for "never anchored".
    error LogAnchorZeroRoot(uint64 treeSize);
    /// @notice An anchor below the current head: the head only grows.
    error LogAnchorTreeSizeBelowHead(uint64 headSize, bytes32 headRoot, uint64 treeSize, bytes32 rootHash);
    /// @notice Another root for the head's own size: two different trees of one size are
    /// proof that the log forked; both roots are the evidence.
    error LogAnchorRootConflict(uint64 treeSize, bytes32 headRoot, bytes32 rootHash);
    /// @notice A proof with the first anchor: from the empty tree there is nothing to prove.
    error LogAnchorUnexpectedProof(uint64 treeSize, uint256 proofLength);
    /// @notice The zero address as the administrator.
    error LogAnchorInvalidAdmin(address admin);

    /// @notice The head moved from `previousSize` (0 for the first anchor) to `treeSize`,
    /// whose root is `rootHash`.
    event Anchored(uint64 indexed treeSize, bytes32 rootHash, uint64 previousSize);

    /// @notice Anchor the tree head (`treeSize`, `rootHash`). Anchorer role only.
    /// @dev The first anchor (from the empty tree) takes an empty proof. Every later one
    /// takes the RFC 9162 consistency proof from the current head to `treeSize` and reverts,
    /// whoever calls, unless it proves the extension, with the errors of the RFC9162 library
    /// (`RFC9162WrongProofSize(got, want)`, `RFC9162RootMismatch(calculated, expected)`,
    /// `RFC9162EmptyProof(size1, size2)`); `expected` equal to the head's root means the new
    /// tree does not contain the anchored one. Re-anchoring the current head with the same
    /// root is a no-op (no event, proof ignored), so a re-sent transaction cannot fail.
    /// Also reverts with {LogAnchorZeroTreeSize}, {LogAnchorZeroRoot},
    /// {LogAnchorTreeSizeBelowHead}, {LogAnchorRootConflict}, {LogAnchorUnexpectedProof},
    /// and OpenZeppelin's `AccessControlUnauthorizedAccount(account, role)` for a caller
    /// without the anchorer role.
    /// @param treeSize The number of log entries the root covers; at least the head's.
    /// @param rootHash The RFC 9162 root hash of the first `treeSize` entries.
    /// @param consistencyProof RFC 9162 PROOF(headSize, D[0:treeSize]).
    function anchor(uint64 treeSize, bytes32 rootHash, bytes32[] calldata consistencyProof) external;

    /// @notice The latest anchored tree head; (0, 0) before the first anchor.
    function head() external view returns (uint64 treeSize, bytes32 rootHash);

    /// @notice The root anchored for `treeSize`, or zero where that size was never anchored.
    function rootAt(uint64 treeSize) external view returns (bytes32);
}
