// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title The city's units and the keys that sign for them
/// @notice A unit is a village/community, a township/street, or a county/city department.
/// Units are named on chain by `unitId = keccak256(bytes(code))` of their code
/// (a statistical division code such as "222404101", or a department code such as "GA").
/// Each unit has one signing key at a time; rotation keeps the history so a signature
/// can be judged by the key that was valid when it was made. A key belongs to one unit
/// for ever: once registered or rotated in, it can never sign for another unit, and a
/// rotated-out key can never come back.
/// Units are written once: level and parent never change; only the key and the active
/// flag do. Time is the block timestamp, in seconds.
interface IUnitRegistry {
    /// @notice The level of a unit in the vetting chain.
    enum Level {
        None, // not registered
        Village, // 村/社区: registers candidates, gives the pre-review
        Township, // 乡镇/街道: gives the preliminary review for its villages
        County // 县/市 部门: gives joint-review opinions, owns datasets
    }

    /// @notice Everything a verifier needs about a unit, read in one call.
    /// @dev `key` is `keyOf(unitId)`: the key valid now.
    struct Unit {
        Level level;
        bool active;
        bytes32 parentId;
        address key;
    }

    /// @notice `unitId` is not registered.
    error UnitRegistryUnknownUnit(bytes32 unitId);
    /// @notice `unitId` is zero (reserved for "no unit", e.g. no parent).
    error UnitRegistryInvalidUnitId(bytes32 unitId);
    /// @notice `unitId` is already registered (units are written once).
    error UnitRegistryUnitExists(bytes32 unitId);
    /// @notice `level` is not a level a unit can be registered with (`None`).
    error UnitRegistryInvalidLevel(bytes32 unitId, Level level);
    /// @notice A village's `parentId` is not a registered township, or a township or
    /// county unit was given a non-zero parent.
    error UnitRegistryInvalidParent(bytes32 unitId, bytes32 parentId);
    /// @notice `key` is the zero address.
    error UnitRegistryInvalidKey(bytes32 unitId, address key);
    /// @notice `key` is (or was) the key of `ownerUnitId`; a key belongs to one unit for ever.
    error UnitRegistryKeyInUse(address key, bytes32 ownerUnitId);
    /// @notice The constructor was given the zero address as admin.
    error UnitRegistryInvalidAdmin(address admin);

    /// @notice A unit was registered with its first key, valid from the block's timestamp.
    event UnitRegistered(bytes32 indexed unitId, Level level, bytes32 indexed parentId, address key);
    /// @notice A unit's key was replaced; `newKey` signs from `validFrom` on, `previousKey` before.
    event UnitKeyRotated(bytes32 indexed unitId, address previousKey, address newKey, uint64 validFrom);
    /// @notice A unit was activated or deactivated (emitted only on a change).
    event UnitActivationChanged(bytes32 indexed unitId, bool active);

    /// @notice The role that registers units, rotates their keys and (de)activates them.
    function UNIT_ADMIN_ROLE() external view returns (bytes32);

    /// @notice Register a unit. A village's parent must be a registered township; other
    /// units have no parent (zero). The key must be non-zero and not used by another unit.
    /// @dev Only UNIT_ADMIN_ROLE. Reverts with UnitRegistryInvalidUnitId, UnitRegistryUnitExists,
    /// UnitRegistryInvalidLevel, UnitRegistryInvalidParent, UnitRegistryInvalidKey or
    /// UnitRegistryKeyInUse.
    function registerUnit(bytes32 unitId, Level level, bytes32 parentId, address key) external;

    /// @notice Replace a unit's signing key from now on; the old key stays valid for the past.
    /// @dev Only UNIT_ADMIN_ROLE. Two rotations in one block: the last one wins for that
    /// timestamp. Reverts with UnitRegistryUnknownUnit, UnitRegistryInvalidKey (zero) or
    /// UnitRegistryKeyInUse (a key any unit ever had, the current one included).
    function rotateKey(bytes32 unitId, address newKey) external;

    /// @notice Activate or deactivate a unit; an inactive unit's signatures are refused.
    /// @dev Only UNIT_ADMIN_ROLE. Reverts with UnitRegistryUnknownUnit.
    function setActive(bytes32 unitId, bool active) external;

    /// @notice The unit's level (`None` for an unknown unit).
    function levelOf(bytes32 unitId) external view returns (Level);

    /// @notice A village's township (zero for other units and unknown units).
    function parentOf(bytes32 unitId) external view returns (bytes32);

    /// @notice Whether the unit is registered and active.
    function isActive(bytes32 unitId) external view returns (bool);

    /// @notice The unit's current signing key (zero for an unknown unit).
    function keyOf(bytes32 unitId) external view returns (address);

    /// @notice The key that was valid for the unit at `timestamp` (zero before registration).
    function keyAt(bytes32 unitId, uint64 timestamp) external view returns (address);

    /// @notice Level, active flag, parent and current key of a unit, in one call
    /// (all zero for an unknown unit).
    function unit(bytes32 unitId) external view returns (Unit memory);

    /// @notice The unit a key belongs or belonged to (zero for a key never registered).
    function unitOfKey(address key) external view returns (bytes32);
}
