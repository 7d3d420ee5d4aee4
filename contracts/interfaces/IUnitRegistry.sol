// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title The city's units and the keys that sign for them
/// @notice A unit is a village/community, a township/street, or a county/city department.
/// Units are named on chain by `unitId = keccak256(bytes(code))` of their code
/// (a statistical division code such as "222404101", or a department code such as "GA").
/// Each unit has one signing key at a time; rotation keeps the history so a signature
/// can be judged by the key that was valid when it was made.
interface IUnitRegistry {
    /// @notice The level of a unit in the vetting chain.
    enum Level {
        None, // not registered
        Village, // 村/社区: registers candidates, gives the pre-review
        Township, // 乡镇/街道: gives the preliminary review for its villages
        County // 县/市 部门: gives joint-review opinions, owns datasets
    }

    error UnitRegistryUnknownUnit(bytes32 unitId);
    error UnitRegistryUnitExists(bytes32 unitId);
    error UnitRegistryInvalidLevel(bytes32 unitId, Level level);
    error UnitRegistryInvalidParent(bytes32 unitId, bytes32 parentId);
    error UnitRegistryInvalidKey(bytes32 unitId, address key);
    error UnitRegistryKeyInUse(address key, bytes32 ownerUnitId);

    event UnitRegistered(bytes32 indexed unitId, Level level, bytes32 indexed parentId, address key);
    event UnitKeyRotated(bytes32 indexed unitId, address previousKey, address newKey, uint64 validFrom);
    event UnitActivationChanged(bytes32 indexed unitId, bool active);

    /// @notice Register a unit. A village's parent must be a registered township; other
    /// units have no parent (zero). The key must be non-zero and not used by another unit.
    function registerUnit(bytes32 unitId, Level level, bytes32 parentId, address key) external;

    /// @notice Replace a unit's signing key from now on; the old key stays valid for the past.
    function rotateKey(bytes32 unitId, address newKey) external;

    /// @notice Activate or deactivate a unit; an inactive unit's signatures are refused.
    function setActive(bytes32 unitId, bool active) external;

    function levelOf(bytes32 unitId) external view returns (Level);

    function parentOf(bytes32 unitId) external view returns (bytes32);

    function isActive(bytes32 unitId) external view returns (bool);

    /// @notice The unit's current signing key (zero for an unknown unit).
    function keyOf(bytes32 unitId) external view returns (address);

    /// @notice The key that was valid for the unit at `timestamp` (zero before registration).
    function keyAt(bytes32 unitId, uint64 timestamp) external view returns (address);
}
