// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

import {IUnitRegistry} from "./interfaces/IUnitRegistry.sol";

/// @title UnitRegistry
/// @notice The registry of villages, townships and county departments and their signing keys.
/// Key history is an OpenZeppelin `Checkpoints.Trace208` per unit: (timestamp → key),
/// so `keyAt` is a binary search over the unit's rotations.
contract UnitRegistry is IUnitRegistry, AccessControl {
    using Checkpoints for Checkpoints.Trace208;

    /// @inheritdoc IUnitRegistry
    bytes32 public constant UNIT_ADMIN_ROLE = keccak256("UNIT_ADMIN_ROLE");

    struct UnitRecord {
        bytes32 parentId;
        Level level;
        bool active;
    }

    mapping(bytes32 unitId => UnitRecord) private _units;
    mapping(bytes32 unitId => Checkpoints.Trace208) private _keys;
    mapping(address key => bytes32 unitId) private _unitOfKey;

    /// @param admin gets DEFAULT_ADMIN_ROLE and UNIT_ADMIN_ROLE.
    constructor(address admin) {
        if (admin == address(0)) revert UnitRegistryInvalidAdmin(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UNIT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IUnitRegistry
    function registerUnit(
        bytes32 unitId,
        Level level,
        bytes32 parentId,
        address key
    ) external onlyRole(UNIT_ADMIN_ROLE) {
        if (unitId == bytes32(0)) revert UnitRegistryInvalidUnitId(unitId);
        if (_units[unitId].level != Level.None) revert UnitRegistryUnitExists(unitId);
        if (level == Level.None) revert UnitRegistryInvalidLevel(unitId, level);
        _checkParent(unitId, level, parentId);
        _checkNewKey(unitId, key);

        _units[unitId] = UnitRecord({parentId: parentId, level: level, active: true});
        _unitOfKey[key] = unitId;
        _keys[unitId].push(_now(), uint208(uint160(key)));
        emit UnitRegistered(unitId, level, parentId, key);
    }

    /// @inheritdoc IUnitRegistry
    function rotateKey(bytes32 unitId, address newKey) external onlyRole(UNIT_ADMIN_ROLE) {
        _checkKnown(unitId);
        _checkNewKey(unitId, newKey);

        address previousKey = _latestKey(unitId);
        uint48 validFrom = _now();
        _unitOfKey[newKey] = unitId;
        _keys[unitId].push(validFrom, uint208(uint160(newKey)));
        emit UnitKeyRotated(unitId, previousKey, newKey, validFrom);
    }

    /// @inheritdoc IUnitRegistry
    function setActive(bytes32 unitId, bool active) external onlyRole(UNIT_ADMIN_ROLE) {
        _checkKnown(unitId);
        if (_units[unitId].active == active) return;
        _units[unitId].active = active;
        emit UnitActivationChanged(unitId, active);
    }

    /// @inheritdoc IUnitRegistry
    function levelOf(bytes32 unitId) external view returns (Level) {
        return _units[unitId].level;
    }

    /// @inheritdoc IUnitRegistry
    function parentOf(bytes32 unitId) external view returns (bytes32) {
        return _units[unitId].parentId;
    }

    /// @inheritdoc IUnitRegistry
    function isActive(bytes32 unitId) external view returns (bool) {
        return _units[unitId].active;
    }

    /// @inheritdoc IUnitRegistry
    function keyOf(bytes32 unitId) external view returns (address) {
        return _latestKey(unitId);
    }

    /// @inheritdoc IUnitRegistry
    function keyAt(bytes32 unitId, uint64 timestamp) external view returns (address) {
        uint48 at = timestamp > type(uint48).max ? type(uint48).max : uint48(timestamp);
        return address(uint160(_keys[unitId].upperLookupRecent(at)));
    }

    /// @inheritdoc IUnitRegistry
    function unit(bytes32 unitId) external view returns (Unit memory) {
        UnitRecord storage record = _units[unitId];
        return
            Unit({
                level: record.level,
                active: record.active,
                parentId: record.parentId,
                key: _latestKey(unitId)
            });
    }

    /// @inheritdoc IUnitRegistry
    function unitOfKey(address key) external view returns (bytes32) {
        return _unitOfKey[key];
    }

    function _checkKnown(bytes32 unitId) private view {
        if (_units[unitId].level == Level.None) revert UnitRegistryUnknownUnit(unitId);
    }

    /// @dev A village hangs under a registered township; every other level has no parent.
    function _checkParent(bytes32 unitId, Level level, bytes32 parentId) private view {
        bool valid = level == Level.Village
            ? _units[parentId].level == Level.Township
            : parentId == bytes32(0);
        if (!valid) revert UnitRegistryInvalidParent(unitId, parentId);
    }

    /// @dev A new key is non-zero and has never belonged to any unit (this one included,
    /// so rotating to the current key is refused as UnitRegistryKeyInUse).
    function _checkNewKey(bytes32 unitId, address key) private view {
        if (key == address(0)) revert UnitRegistryInvalidKey(unitId, key);
        bytes32 owner = _unitOfKey[key];
        if (owner != bytes32(0)) revert UnitRegistryKeyInUse(key, owner);
    }

    function _latestKey(bytes32 unitId) private view returns (address) {
        return address(uint160(_keys[unitId].latest()));
    }

    /// @dev The one place this contract reads the clock.
    function _now() internal view virtual returns (uint48) {
        return Time.timestamp();
    }
}
