// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ILogAnchor} from "./interfaces/ILogAnchor.sol";
import {RFC9162} from "./libraries/RFC9162.sol";

/// @title The on-chain anchor of the Merkle log's tree heads
/// @notice See {ILogAnchor}. The administrator (given to the constructor) grants and revokes
/// {ANCHORER_ROLE}; holding it lets one extend the anchored history, never rewrite it.
/// @dev Storage: the head's size in one slot and every anchored root in a mapping keyed by
/// size; the head's root is `_roots[_headSize]`, so an anchor writes one new slot and
/// updates one.
contract LogAnchor is ILogAnchor, AccessControl {
    /// @notice The role allowed to call {anchor}.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @dev The size of the latest anchored tree head (0 before the first anchor).
    uint64 private _headSize;
    /// @dev The root anchored for each size; zero where none was.
    mapping(uint64 treeSize => bytes32 rootHash) private _roots;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE, who grants {ANCHORER_ROLE}.
    constructor(address admin) {
        if (admin == address(0)) revert LogAnchorInvalidAdmin(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc ILogAnchor
    function anchor(
        uint64 treeSize,
        bytes32 rootHash,
        bytes32[] calldata consistencyProof
    ) external onlyRole(ANCHORER_ROLE) {
        uint64 headSize = _headSize;
        bytes32 headRoot = _roots[headSize];
        if (_checkExtends(headSize, headRoot, treeSize, rootHash, consistencyProof)) return;
        _headSize = treeSize;
        _roots[treeSize] = rootHash;
        emit Anchored(treeSize, rootHash, headSize);
    }

    /// @notice ERC-165: {ILogAnchor} and OpenZeppelin's IAccessControl.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(ILogAnchor).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @inheritdoc ILogAnchor
    function head() external view returns (uint64 treeSize, bytes32 rootHash) {
        treeSize = _headSize;
        rootHash = _roots[treeSize];
    }

    /// @inheritdoc ILogAnchor
    function rootAt(uint64 treeSize) external view returns (bytes32) {
        return _roots[treeSize];
    }

    /// @dev Reverts unless (`treeSize`, `rootHash`) may follow the head (`headSize`,
    /// `headRoot`). Returns true when it is the head itself: nothing to do.
    function _checkExtends(
        uint64 headSize,
        bytes32 headRoot,
        uint64 treeSize,
        bytes32 rootHash,
        bytes32[] calldata proof
    ) private view returns (bool isHead) {
        if (treeSize == 0) revert LogAnchorZeroTreeSize(rootHash);
        if (rootHash == bytes32(0)) revert LogAnchorZeroRoot(treeSize);
        if (treeSize < headSize) revert LogAnchorTreeSizeBelowHead(headSize, headRoot, treeSize, rootHash);
        if (treeSize == headSize) {
            if (rootHash != headRoot) revert LogAnchorRootConflict(treeSize, headRoot, rootHash);
            return true;
        }
        if (headSize == 0) {
            if (proof.length != 0) revert LogAnchorUnexpectedProof(treeSize, proof.length);
            return false;
        }
        RFC9162.verifyConsistency(headSize, treeSize, proof, headRoot, rootHash);
        return false;
    }
}
