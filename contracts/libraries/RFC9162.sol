// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title RFC 9162 §2.1 Merkle proof verification (SHA-256)
/// @notice Inclusion (§2.1.3.2) and consistency (§2.1.4.2) proof verification for an
/// RFC 9162 (Certificate Transparency v2) tree: `node = SHA-256(0x01 || left || right)`.
/// @dev A port of `ledger/merkle/proof.py`, itself a port of transparency-dev/merkle
/// `proof/verify.go`: the same function names (`decompInclProof`, `chainInner`,
/// `chainInnerRight`, `chainBorderRight`) and the same order of checks, so the three can be
/// read side by side. The rules are those of the Python verifier, which are stricter than
/// Go's in one place: a consistency proof from the empty tree is an error (Go accepts an
/// empty proof from size 0), because the empty tree is a prefix of every tree.
/// Hashes are `bytes32`, so the Python checks of a hash's length have no counterpart here.
library RFC9162 {
    /// @notice The proof has `got` hashes; the tree sizes call for exactly `want`.
    error RFC9162WrongProofSize(uint256 got, uint256 want);
    /// @notice A well-formed proof leads to `calculated`, not to the trusted `expected` root.
    error RFC9162RootMismatch(bytes32 calculated, bytes32 expected);
    /// @notice An inclusion proof for leaf `index` in a tree of `size` leaves (requires `index < size`).
    error RFC9162IndexBeyondSize(uint256 index, uint256 size);
    /// @notice A consistency proof from `size1` to a smaller `size2`.
    error RFC9162SizeDecreased(uint256 size1, uint256 size2);
    /// @notice A consistency proof from the empty tree (to `size2`) proves nothing and is refused.
    error RFC9162ProofFromEmptyTree(uint256 size2);
    /// @notice An empty consistency proof between two different non-zero sizes.
    error RFC9162EmptyProof(uint256 size1, uint256 size2);

    /// @notice Check that `leafHash` is leaf `index` of the tree of `size` leaves with `root`.
    /// @dev RFC 9162 §2.1.3.2. Reverts with {RFC9162IndexBeyondSize} or
    /// {RFC9162WrongProofSize} for a malformed proof and {RFC9162RootMismatch} when the proof
    /// leads to another root.
    function verifyInclusion(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) internal view {
        bytes32 calculated = rootFromInclusionProof(index, size, leafHash, proof);
        if (calculated != root) revert RFC9162RootMismatch(calculated, root);
    }

    /// @notice The root that an inclusion proof for leaf `index` of `size` leaves leads to.
    /// @dev Requires `index < size` and a proof of exactly the length the tree shape calls for.
    function rootFromInclusionProof(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) internal view returns (bytes32) {
        if (index >= size) revert RFC9162IndexBeyondSize(index, size);
        (uint256 inner, uint256 border) = decompInclProof(index, size);
        if (proof.length != inner + border) revert RFC9162WrongProofSize(proof.length, inner + border);
        bytes32 res = chainInner(leafHash, proof[:inner], index);
        return chainBorderRight(res, proof[inner:]);
    }

    /// @notice Check that the tree of `size2` leaves with `root2` extends the one of `size1`
    /// leaves with `root1`.
    /// @dev RFC 9162 §2.1.4.2. A proof from the empty tree is refused
    /// ({RFC9162ProofFromEmptyTree}), 0 -> 0 included: the empty tree is a prefix of every
    /// tree, so it proves nothing. Equal sizes need an empty proof and equal roots; otherwise
    /// the proof length must be exact ({RFC9162EmptyProof}, {RFC9162WrongProofSize}), and a
    /// proof that leads to another root1 or root2 reverts with {RFC9162RootMismatch}
    /// (`expected` says which).
    function verifyConsistency(
        uint256 size1,
        uint256 size2,
        bytes32[] calldata proof,
        bytes32 root1,
        bytes32 root2
    ) internal view {
        if (size2 < size1) revert RFC9162SizeDecreased(size1, size2);
        if (size1 == 0) revert RFC9162ProofFromEmptyTree(size2);
        if (size1 == size2) {
            // Nothing is hashed: the roots only have to be the same.
            if (proof.length != 0) revert RFC9162WrongProofSize(proof.length, 0);
            if (root1 != root2) revert RFC9162RootMismatch(root1, root2);
            return;
        }
        if (proof.length == 0) revert RFC9162EmptyProof(size1, size2);

        (uint256 inner, uint256 border) = decompInclProof(size1 - 1, size2);
        uint256 shift = _trailingZeros(size1);
        inner -= shift; // shift < inner, since size1 < size2

        // The proof starts with the root of the perfect subtree of 2**shift leaves ending
        // at size1 — unless size1 is that very power of two.
        bytes32 seed = proof[0];
        uint256 start = 1;
        if (size1 == 1 << shift) (seed, start) = (root1, 0);
        if (proof.length != start + inner + border) {
            revert RFC9162WrongProofSize(proof.length, start + inner + border);
        }
        bytes32[] calldata rest = proof[start:];

        uint256 mask = (size1 - 1) >> shift; // chaining starts at level `shift`
        bytes32 hash1 = chainInnerRight(seed, rest[:inner], mask);
        hash1 = chainBorderRight(hash1, rest[inner:]);
        if (hash1 != root1) revert RFC9162RootMismatch(hash1, root1);
        bytes32 hash2 = chainInner(seed, rest[:inner], mask);
        hash2 = chainBorderRight(hash2, rest[inner:]);
        if (hash2 != root2) revert RFC9162RootMismatch(hash2, root2);
    }

    /// @notice Split an inclusion proof's length into its inner part and its right border.
    /// @dev Requires `size > 0`. `inner` is the bit length of `index ^ (size - 1)`, `border`
    /// the number of set bits of `index` above it.
    function decompInclProof(uint256 index, uint256 size) internal pure returns (uint256 inner, uint256 border) {
        inner = _bitLength(index ^ (size - 1));
        border = _onesCount(index >> inner);
    }

    /// @notice Hash `seed` up with the inner proof: bit `i` of `index` says whether the seed
    /// is the left (0) or the right (1) child at level `i`.
    /// @dev Python: `seed = hash_children(seed, h) if (index >> i) & 1 == 0 else
    /// hash_children(h, seed)` for each `i, h`. The chain functions inline {hashChildren}
    /// (same buffer, same precompile call) in assembly, which saves about 100 gas a hash
    /// over a Solidity loop calling it (call, bounds check, loop counter).
    function chainInner(bytes32 seed, bytes32[] calldata proof, uint256 index) internal view returns (bytes32) {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore8(buf, 0x01)
            let left := add(buf, 0x01)
            let right := add(buf, 0x21)
            let end := add(proof.offset, shl(5, proof.length))
            for { let p := proof.offset } lt(p, end) { p := add(p, 0x20) } {
                let h := calldataload(p)
                // When the seed is the right child, swap = seed ^ h turns (seed, h) into (h, seed).
                let swap := mul(xor(seed, h), and(index, 1))
                mstore(left, xor(seed, swap))
                mstore(right, xor(h, swap))
                if iszero(staticcall(gas(), 0x02, buf, 0x41, 0x00, 0x20)) {
                    revert(0, 0)
                }
                seed := mload(0x00)
                index := shr(1, index)
            }
        }
        return seed;
    }

    /// @notice Like {chainInner}, but only the levels where the seed is a right child.
    /// @dev Python: `if (index >> i) & 1 == 1: seed = hash_children(h, seed)` for each `i, h`.
    /// The seed stays in the buffer's right half, where the precompile writes each new one.
    function chainInnerRight(bytes32 seed, bytes32[] calldata proof, uint256 index) internal view returns (bytes32) {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore8(buf, 0x01)
            let left := add(buf, 0x01)
            let right := add(buf, 0x21)
            mstore(right, seed)
            let end := add(proof.offset, shl(5, proof.length))
            for { let p := proof.offset } lt(p, end) { p := add(p, 0x20) } {
                if and(index, 1) {
                    mstore(left, calldataload(p))
                    if iszero(staticcall(gas(), 0x02, buf, 0x41, right, 0x20)) {
                        revert(0, 0)
                    }
                }
                index := shr(1, index)
            }
            seed := mload(right)
        }
        return seed;
    }

    /// @notice Hash `seed` up the tree's right border: every proof hash is a left sibling.
    /// @dev Python: `seed = hash_children(h, seed)` for each `h`. The seed stays in the
    /// buffer's right half, as in {chainInnerRight}.
    function chainBorderRight(bytes32 seed, bytes32[] calldata proof) internal view returns (bytes32) {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore8(buf, 0x01)
            let left := add(buf, 0x01)
            let right := add(buf, 0x21)
            mstore(right, seed)
            let end := add(proof.offset, shl(5, proof.length))
            for { let p := proof.offset } lt(p, end) { p := add(p, 0x20) } {
                mstore(left, calldataload(p))
                if iszero(staticcall(gas(), 0x02, buf, 0x41, right, 0x20)) {
                    revert(0, 0)
                }
            }
            seed := mload(right)
        }
        return seed;
    }

    /// @notice RFC 9162 §2.1.1 interior node: SHA-256(0x01 || left || right).
    /// @dev Calls the SHA-256 precompile (address 2) on a 65-byte buffer just past the free
    /// memory pointer, never allocated, so that hashing a proof of any length reuses one
    /// buffer: `sha256(abi.encodePacked(bytes1(0x01), left, right))` allocates a copy per
    /// node and measured about 330 gas more per hash.
    function hashChildren(bytes32 left, bytes32 right) internal view returns (bytes32 node) {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore8(buf, 0x01)
            mstore(add(buf, 0x01), left)
            mstore(add(buf, 0x21), right)
            if iszero(staticcall(gas(), 0x02, buf, 0x41, 0x00, 0x20)) {
                revert(0, 0)
            }
            node := mload(0x00)
        }
    }

    /// @dev The number of bits needed to write `x` (0 for 0), Go's `bits.Len`.
    function _bitLength(uint256 x) private pure returns (uint256 n) {
        unchecked {
            for (uint256 step = 128; step != 0; step >>= 1) {
                if (x >> step != 0) {
                    x >>= step;
                    n += step;
                }
            }
            return n + x; // x is now 1, or 0 when it was 0
        }
    }

    /// @dev The number of set bits of `x`, Go's `bits.OnesCount`.
    function _onesCount(uint256 x) private pure returns (uint256 n) {
        unchecked {
            for (; x != 0; ++n) x &= x - 1;
        }
    }

    /// @dev The number of trailing zero bits of `x`, Go's `bits.TrailingZeros`. Requires `x > 0`.
    function _trailingZeros(uint256 x) private pure returns (uint256) {
        unchecked {
            return _bitLength(x & (~x + 1)) - 1;
        }
    }
}
