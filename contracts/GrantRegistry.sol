// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IGrantRegistry} from "./interfaces/IGrantRegistry.sol";
import {IUnitRegistry} from "./interfaces/IUnitRegistry.sol";

/// @title GrantRegistry — datasets, and grants signed by their owners (see {IGrantRegistry})
/// @notice The city data bureau (市政数局, DATA_ADMIN_ROLE) publishes datasets; everything
/// about a grant is decided by the owner's key, the bureau only relays.
contract GrantRegistry is IGrantRegistry, AccessControl, EIP712 {
    /// @notice Role of the city data bureau: registers datasets.
    bytes32 public constant DATA_ADMIN_ROLE = keccak256("DATA_ADMIN_ROLE");

    /// @notice keccak256 of the EIP-712 `Grant` type; its field order is the encoding.
    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(bytes32 datasetId,bytes32 granteeUnitId,bytes32 scopeHash,uint64 validFrom,uint64 validUntil,bytes32 requestId,bytes32 leafHash)"
    );

    /// @notice keccak256 of the EIP-712 `Revocation` type.
    bytes32 public constant REVOCATION_TYPEHASH = keccak256("Revocation(bytes32 grantId,bytes32 leafHash)");

    /// @dev A grant as stored: flat, so that the four times share one slot (6 slots in all).
    /// `issuedAt != 0` marks a recorded grant.
    struct StoredGrant {
        bytes32 datasetId;
        bytes32 granteeUnitId;
        bytes32 scopeHash;
        bytes32 requestId;
        bytes32 leafHash;
        uint64 validFrom;
        uint64 validUntil;
        uint64 issuedAt;
        uint64 revokedAt;
    }

    IUnitRegistry private immutable _units;
    mapping(bytes32 datasetId => Dataset) private _datasets;
    mapping(bytes32 grantId => StoredGrant) private _grants;

    /// @param units the unit registry (names, levels, activity and keys of units)
    /// @param admin receives DEFAULT_ADMIN_ROLE and DATA_ADMIN_ROLE
    constructor(IUnitRegistry units, address admin) EIP712("GrantRegistry", "1") {
        _units = units;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DATA_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ datasets

    /// @inheritdoc IGrantRegistry
    function registerDataset(
        bytes32 datasetId,
        bytes32 ownerUnitId,
        SharingClass sharingClass
    ) external onlyRole(DATA_ADMIN_ROLE) {
        if (datasetId == bytes32(0)) revert GrantRegistryInvalidDatasetId();
        if (_datasets[datasetId].ownerUnitId != bytes32(0)) revert GrantRegistryDatasetExists(datasetId);
        IUnitRegistry.Level level = _checkUnitActive(ownerUnitId).level;
        if (level != IUnitRegistry.Level.County) revert GrantRegistryOwnerNotCounty(ownerUnitId, level);
        _datasets[datasetId] = Dataset(ownerUnitId, sharingClass, _now());
        emit DatasetRegistered(datasetId, ownerUnitId, sharingClass);
    }

    /// @inheritdoc IGrantRegistry
    function datasetOf(bytes32 datasetId) external view returns (Dataset memory) {
        Dataset memory dataset = _datasets[datasetId];
        if (dataset.ownerUnitId == bytes32(0)) revert GrantRegistryUnknownDataset(datasetId);
        return dataset;
    }

    // ------------------------------------------------------------------ grants

    /// @inheritdoc IGrantRegistry
    function issueGrant(Grant calldata grant, bytes calldata signature) external returns (bytes32 grantId) {
        return _issue(grant, signature);
    }

    /// @inheritdoc IGrantRegistry
    function issueGrants(SignedGrant[] calldata grants) external returns (bytes32[] memory grantIds) {
        if (grants.length == 0) revert GrantRegistryEmptyBatch();
        grantIds = new bytes32[](grants.length);
        for (uint256 i = 0; i < grants.length; ++i) {
            grantIds[i] = _issue(grants[i].grant, grants[i].signature);
        }
    }

    /// @inheritdoc IGrantRegistry
    function revokeGrant(Revocation calldata revocation, bytes calldata signature) external {
        StoredGrant storage stored = _grants[revocation.grantId];
        if (stored.issuedAt == 0) revert GrantRegistryUnknownGrant(revocation.grantId);
        if (stored.revokedAt != 0) revert GrantRegistryAlreadyRevoked(revocation.grantId, stored.revokedAt);
        // Not _checkOwnerSignature: a deactivated owner must still be able to withdraw access.
        bytes32 ownerUnitId = _datasets[stored.datasetId].ownerUnitId;
        _checkSigner(ownerUnitId, _units.unit(ownerUnitId).key, _hashTypedDataV4(_hashRevocation(revocation)), signature);

        uint64 revokedAt = _now();
        stored.revokedAt = revokedAt;
        emit GrantRevoked(revocation.grantId, revokedAt, revocation.leafHash);
    }

    /// @inheritdoc IGrantRegistry
    function isActive(bytes32 grantId, uint64 timestamp) external view returns (bool) {
        StoredGrant storage stored = _grants[grantId];
        if (stored.issuedAt == 0) return false;
        // Not before it was on chain either: a backdated validFrom must not make reads
        // made before the grant existed look authorised.
        if (timestamp < stored.validFrom || timestamp < stored.issuedAt || timestamp >= stored.validUntil) {
            return false;
        }
        return stored.revokedAt == 0 || timestamp < stored.revokedAt;
    }

    /// @inheritdoc IGrantRegistry
    function grantOf(bytes32 grantId) external view returns (GrantRecord memory) {
        StoredGrant storage stored = _grants[grantId];
        if (stored.issuedAt == 0) revert GrantRegistryUnknownGrant(grantId);
        return GrantRecord({
            grant: Grant({
                datasetId: stored.datasetId,
                granteeUnitId: stored.granteeUnitId,
                scopeHash: stored.scopeHash,
                validFrom: stored.validFrom,
                validUntil: stored.validUntil,
                requestId: stored.requestId,
                leafHash: stored.leafHash
            }),
            ownerUnitId: _datasets[stored.datasetId].ownerUnitId,
            issuedAt: stored.issuedAt,
            revokedAt: stored.revokedAt
        });
    }

    // ------------------------------------------------------------------ EIP-712

    /// @inheritdoc IGrantRegistry
    function hashGrant(Grant calldata grant) external pure returns (bytes32 grantId) {
        return _hashGrant(grant);
    }

    /// @inheritdoc IGrantRegistry
    function grantDigest(Grant calldata grant) external view returns (bytes32) {
        return _hashTypedDataV4(_hashGrant(grant));
    }

    /// @inheritdoc IGrantRegistry
    function revocationDigest(Revocation calldata revocation) external view returns (bytes32) {
        return _hashTypedDataV4(_hashRevocation(revocation));
    }

    /// @inheritdoc IGrantRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IGrantRegistry
    function unitRegistry() external view returns (IUnitRegistry) {
        return _units;
    }

    // ------------------------------------------------------------------ internals

    function _issue(Grant calldata grant, bytes calldata signature) private returns (bytes32 grantId) {
        _checkWindow(grant.validFrom, grant.validUntil);
        bytes32 ownerUnitId = _checkShareable(grant.datasetId);
        grantId = _hashGrant(grant);
        if (_grants[grantId].issuedAt != 0) revert GrantRegistryGrantExists(grantId);
        _checkOwnerSignature(ownerUnitId, _hashTypedDataV4(grantId), signature);
        _checkUnitActive(grant.granteeUnitId);

        _grants[grantId] = StoredGrant({
            datasetId: grant.datasetId,
            granteeUnitId: grant.granteeUnitId,
            scopeHash: grant.scopeHash,
            requestId: grant.requestId,
            leafHash: grant.leafHash,
            validFrom: grant.validFrom,
            validUntil: grant.validUntil,
            issuedAt: _now(),
            revokedAt: 0
        });
        emit GrantIssued(
            grantId, grant.datasetId, grant.granteeUnitId, grant.validFrom, grant.validUntil, grant.leafHash
        );
    }

    /// @dev Requires validFrom < validUntil.
    function _checkWindow(uint64 validFrom, uint64 validUntil) private pure {
        if (validFrom >= validUntil) revert GrantRegistryInvalidWindow(validFrom, validUntil);
    }

    /// @dev Requires a registered dataset that is not NotShared; returns its owner.
    function _checkShareable(bytes32 datasetId) private view returns (bytes32 ownerUnitId) {
        Dataset storage dataset = _datasets[datasetId];
        ownerUnitId = dataset.ownerUnitId;
        if (ownerUnitId == bytes32(0)) revert GrantRegistryUnknownDataset(datasetId);
        if (dataset.sharingClass == SharingClass.NotShared) revert GrantRegistryDatasetNotShared(datasetId);
    }

    /// @dev Requires a registered, active unit (one call to the unit registry); returns it.
    function _checkUnitActive(bytes32 unitId) private view returns (IUnitRegistry.Unit memory unit) {
        unit = _units.unit(unitId);
        if (unit.level == IUnitRegistry.Level.None) revert GrantRegistryUnknownUnit(unitId);
        if (!unit.active) revert GrantRegistryInactiveUnit(unitId);
    }

    /// @dev Requires the owner to be active and `signature` over `digest` to be by its current
    /// key. ECDSA.recoverCalldata rejects a length other than 65, a high s and v not in {27, 28}.
    function _checkOwnerSignature(bytes32 ownerUnitId, bytes32 digest, bytes calldata signature) private view {
        _checkSigner(ownerUnitId, _checkUnitActive(ownerUnitId).key, digest, signature);
    }

    /// @dev Requires `signature` over `digest` to be by `expected`, the unit's current key.
    function _checkSigner(bytes32 unitId, address expected, bytes32 digest, bytes calldata signature)
        private
        pure
    {
        address signer = ECDSA.recoverCalldata(digest, signature);
        if (signer != expected) revert GrantRegistryInvalidSigner(unitId, signer, expected);
    }

    function _hashGrant(Grant calldata grant) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                grant.datasetId,
                grant.granteeUnitId,
                grant.scopeHash,
                grant.validFrom,
                grant.validUntil,
                grant.requestId,
                grant.leafHash
            )
        );
    }

    function _hashRevocation(Revocation calldata revocation) private pure returns (bytes32) {
        return keccak256(abi.encode(REVOCATION_TYPEHASH, revocation.grantId, revocation.leafHash));
    }

    /// @dev The one reading of the clock: block time as uint64 seconds.
    function _now() private view returns (uint64) {
        return uint64(block.timestamp);
    }
}
