// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IUnitRegistry} from "./IUnitRegistry.sol";

/// @title Data-sharing grants of the shared grassroots governance database (共建共享 基层社会治理数据库)
/// @notice County/city departments publish datasets with a sharing class; the owning
/// department grants a unit access to a dataset for a field and row scope and a validity
/// window, and can revoke the grant at any time. Grants and revocations are EIP-712 typed
/// data signed by the owning unit's current key (see {IUnitRegistry-keyOf}) and relayed
/// by anyone, so the relayer (the platform) cannot issue or revoke on its own.
///
/// EIP-712 domain: `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`
/// with name "GrantRegistry", version "1", the chain id and this contract's address
/// (also readable through ERC-5267 `eip712Domain()`).
///
/// Typed data (field order is part of the encoding):
/// - `Grant(bytes32 datasetId,bytes32 granteeUnitId,bytes32 scopeHash,uint64 validFrom,uint64 validUntil,bytes32 requestId,bytes32 leafHash)`
/// - `Revocation(bytes32 grantId,bytes32 leafHash)`
///
/// A grant's id is its EIP-712 struct hash, `grantId = hashStruct(Grant)` =
/// `keccak256(abi.encode(GRANT_TYPEHASH, datasetId, granteeUnitId, scopeHash, validFrom,
/// validUntil, requestId, leafHash))`. It does not depend on the domain: the registry is
/// the namespace. Two grants of the same terms differ by `requestId`.
///
/// Ids: `datasetId = keccak256(bytes(resourceCode))`; units as in {IUnitRegistry}.
/// Times are Unix seconds of block time.
interface IGrantRegistry {
    /// @notice The sharing class of a dataset (《政务信息资源共享管理暂行办法》 2016 / 《政务数据共享条例》 2025).
    enum SharingClass {
        Unconditional, // 无条件共享: available to every department
        Conditional, // 有条件共享: only to some departments, or only in part
        NotShared // 不予共享: no grant can be issued
    }

    /// @notice A published dataset (资源目录 item). Write-once.
    struct Dataset {
        bytes32 ownerUnitId; // the providing County-level unit; zero: not registered
        SharingClass sharingClass;
        uint64 registeredAt; // block time of registration
    }

    /// @notice The signed terms of a grant, field for field the EIP-712 `Grant` struct.
    struct Grant {
        bytes32 datasetId; // what is shared
        bytes32 granteeUnitId; // who may read it
        bytes32 scopeHash; // commitment to the granted fields and row scope (canonical JSON, keccak256)
        uint64 validFrom; // first second of validity (inclusive)
        uint64 validUntil; // end of validity (exclusive); validFrom < validUntil
        bytes32 requestId; // the share request answered; makes grants of equal terms distinct
        bytes32 leafHash; // SHA-256 leaf hash of the grant's entry in the off-chain Merkle log
    }

    /// @notice A grant with the owner key's 65-byte signature (r || s || v, v in {27, 28}, low s).
    struct SignedGrant {
        Grant grant;
        bytes signature;
    }

    /// @notice The signed terms of a revocation, field for field the EIP-712 `Revocation` struct.
    struct Revocation {
        bytes32 grantId; // the grant revoked
        bytes32 leafHash; // SHA-256 leaf hash of the revocation's entry in the off-chain Merkle log
    }

    /// @notice A stored grant, shaped after the EAS `Attestation`
    /// (attester = ownerUnitId, recipient = grantee, time = issuedAt,
    /// expirationTime = validUntil, revocationTime = revokedAt).
    struct GrantRecord {
        Grant grant;
        bytes32 ownerUnitId; // the dataset's owner, whose key signed the grant
        uint64 issuedAt; // block time the grant was recorded
        uint64 revokedAt; // block time of revocation; zero while not revoked
    }

    /// @notice `unitId` is not a registered unit.
    error GrantRegistryUnknownUnit(bytes32 unitId);
    /// @notice `unitId` is registered but deactivated; its signatures and new grants to it are refused.
    error GrantRegistryInactiveUnit(bytes32 unitId);
    /// @notice Datasets are owned by County-level units only; `unitId` has `level`.
    error GrantRegistryOwnerNotCounty(bytes32 unitId, IUnitRegistry.Level level);
    /// @notice No dataset `datasetId` is registered.
    error GrantRegistryUnknownDataset(bytes32 datasetId);
    /// @notice Dataset `datasetId` is already registered (datasets are write-once).
    error GrantRegistryDatasetExists(bytes32 datasetId);
    /// @notice Dataset `datasetId` is 不予共享 (NotShared): it cannot be granted.
    error GrantRegistryDatasetNotShared(bytes32 datasetId);
    /// @notice A dataset id of zero was given.
    error GrantRegistryInvalidDatasetId();
    /// @notice The window is empty: want `validFrom < validUntil`.
    error GrantRegistryInvalidWindow(uint64 validFrom, uint64 validUntil);
    /// @notice The signature recovers to `signer`, but the owner `ownerUnitId`'s current key is `expected`.
    error GrantRegistryInvalidSigner(bytes32 ownerUnitId, address signer, address expected);
    /// @notice Grant `grantId` is already recorded (grants are write-once).
    error GrantRegistryGrantExists(bytes32 grantId);
    /// @notice No grant `grantId` is recorded.
    error GrantRegistryUnknownGrant(bytes32 grantId);
    /// @notice Grant `grantId` was already revoked at `revokedAt`.
    error GrantRegistryAlreadyRevoked(bytes32 grantId, uint64 revokedAt);
    /// @notice `issueGrants` was called with no grants.
    error GrantRegistryEmptyBatch();

    /// @notice A dataset was published.
    event DatasetRegistered(bytes32 indexed datasetId, bytes32 indexed ownerUnitId, SharingClass sharingClass);
    /// @notice A grant was recorded; `grantId` is its EIP-712 struct hash.
    event GrantIssued(
        bytes32 indexed grantId,
        bytes32 indexed datasetId,
        bytes32 indexed granteeUnitId,
        uint64 validFrom,
        uint64 validUntil,
        bytes32 leafHash
    );
    /// @notice A grant was revoked at block time `revokedAt`; `leafHash` is the revocation's log entry.
    event GrantRevoked(bytes32 indexed grantId, uint64 revokedAt, bytes32 leafHash);

    /// @notice Publish a dataset. Only DATA_ADMIN_ROLE (市政数局).
    /// @dev Reverts with `AccessControlUnauthorizedAccount` for another caller,
    /// `GrantRegistryInvalidDatasetId` for a zero id, `GrantRegistryDatasetExists` on a second
    /// registration, `GrantRegistryUnknownUnit` / `GrantRegistryOwnerNotCounty` /
    /// `GrantRegistryInactiveUnit` unless the owner is a registered, active County unit.
    function registerDataset(bytes32 datasetId, bytes32 ownerUnitId, SharingClass sharingClass) external;

    /// @notice Record one grant signed by the dataset owner's current key; anyone may relay it.
    /// @dev Checks, in order: the window (`validFrom < validUntil`), the dataset (registered, not
    /// NotShared), the grant id (not recorded before), the owner (active) and its signature
    /// (OpenZeppelin ECDSA: `ECDSAInvalidSignatureLength`, `ECDSAInvalidSignatureS` for a high s,
    /// `ECDSAInvalidSignature` for v not in {27, 28} or no signer; `GrantRegistryInvalidSigner`
    /// for any key but the owner's current one, including a signature for another domain), and
    /// the grantee (registered and active). Emits {GrantIssued}.
    /// @return grantId the EIP-712 struct hash of `grant`.
    function issueGrant(Grant calldata grant, bytes calldata signature) external returns (bytes32 grantId);

    /// @notice Record several grants in one transaction, all or none: any failing grant reverts the batch.
    /// @return grantIds in the order given.
    function issueGrants(SignedGrant[] calldata grants) external returns (bytes32[] memory grantIds);

    /// @notice Revoke a grant with a revocation signed by the dataset owner's current key; anyone
    /// may relay it. The revocation time is the block time. A deactivated owner can still
    /// revoke (it can no longer grant): withdrawing access must stay possible.
    /// @dev Reverts with `GrantRegistryUnknownGrant`, `GrantRegistryAlreadyRevoked`, the ECDSA
    /// errors, or `GrantRegistryInvalidSigner` for any key but the owner's current one (the
    /// grantee's, another department's). Emits {GrantRevoked}.
    function revokeGrant(Revocation calldata revocation, bytes calldata signature) external;

    /// @notice Whether grant `grantId` allowed access at `timestamp`, for any past time or now:
    /// `validFrom <= timestamp < validUntil`, issued at or before `timestamp` (a backdated
    /// `validFrom` does not reach before the grant existed), and not revoked at or before it.
    /// False for an unknown grant.
    function isActive(bytes32 grantId, uint64 timestamp) external view returns (bool);

    /// @notice The stored grant. Reverts with `GrantRegistryUnknownGrant` for an unknown id.
    function grantOf(bytes32 grantId) external view returns (GrantRecord memory);

    /// @notice The dataset. Reverts with `GrantRegistryUnknownDataset` for an unknown id.
    function datasetOf(bytes32 datasetId) external view returns (Dataset memory);

    /// @notice The id a grant with these terms has (its EIP-712 struct hash).
    function hashGrant(Grant calldata grant) external pure returns (bytes32 grantId);

    /// @notice The EIP-712 digest the owner signs for these grant terms on this chain and contract.
    function grantDigest(Grant calldata grant) external view returns (bytes32);

    /// @notice The EIP-712 digest the owner signs for this revocation on this chain and contract.
    function revocationDigest(Revocation calldata revocation) external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function domainSeparator() external view returns (bytes32);

    /// @notice The unit registry that names units and holds their keys.
    function unitRegistry() external view returns (IUnitRegistry);
}
