// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {RFC9162} from "../../contracts/libraries/RFC9162.sol";

/// @title Test-only: the RFC9162 library's functions as external calls
/// @dev Lives under tests/ so that it is never shipped. Each function forwards to the
/// library function of the same name.
contract RFC9162Harness {
    function verifyInclusion(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) external view {
        RFC9162.verifyInclusion(index, size, leafHash, proof, root);
    }

    function rootFromInclusionProof(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bytes32) {
        return RFC9162.rootFromInclusionProof(index, size, leafHash, proof);
    }

    function verifyConsistency(
        uint256 size1,
        uint256 size2,
        bytes32[] calldata proof,
        bytes32 root1,
        bytes32 root2
    ) external view {
        RFC9162.verifyConsistency(size1, size2, proof, root1, root2);
    }

    function decompInclProof(uint256 index, uint256 size) external pure returns (uint256 inner, uint256 border) {
        return RFC9162.decompInclProof(index, size);
    }

    function chainInner(bytes32 seed, bytes32[] calldata proof, uint256 index) external view returns (bytes32) {
        return RFC9162.chainInner(seed, proof, index);
    }

    function chainInnerRight(bytes32 seed, bytes32[] calldata proof, uint256 index) external view returns (bytes32) {
        return RFC9162.chainInnerRight(seed, proof, index);
    }

    function chainBorderRight(bytes32 seed, bytes32[] calldata proof) external view returns (bytes32) {
        return RFC9162.chainBorderRight(seed, proof);
    }

    function hashChildren(bytes32 left, bytes32 right) external view returns (bytes32) {
        return RFC9162.hashChildren(left, right);
    }
}
