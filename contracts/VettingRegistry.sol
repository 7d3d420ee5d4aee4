// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IUnitRegistry} from "./interfaces/IUnitRegistry.sol";
import {IVettingRegistry} from "./interfaces/IVettingRegistry.sol";

/// @title VettingRegistry
/// @notice The on-chain half of the two-committee candidate vetting: order of stages,
/// jurisdiction, one opinion per department, and the outcome. See {IVettingRegistry}.
/// @dev A candidate is two storage slots: its village, and one packed slot with its round
/// number, stage, outcome, the number of required departments and five 32-bit opinion
/// bitmaps. A decision reads and rewrites only the packed slot (and reads the village slot
/// at stages 1–2), so it never allocates storage.
contract VettingRegistry is IVettingRegistry, AccessControl, EIP712 {
    /// @inheritdoc IVettingRegistry
    bytes32 public constant ROUND_ADMIN_ROLE = keccak256("ROUND_ADMIN_ROLE");

    /// @inheritdoc IVettingRegistry
    bytes32 public constant REGISTRATION_TYPEHASH =
        keccak256("Registration(bytes32 candidateId,bytes32 roundId,bytes32 villageId,bytes32 leafHash)");

    /// @inheritdoc IVettingRegistry
    bytes32 public constant DECISION_TYPEHASH =
        keccak256(
            "Decision(bytes32 candidateId,uint8 stage,bytes32 unitId,uint8 verdict,bytes32 clausesHash,bytes32 leafHash)"
        );

    /// @dev At most 32 required departments, so an opinion set is a uint32 bitmap.
    uint256 private constant MAX_DEPARTMENTS = 32;

    struct Round {
        bytes32 id;
        bytes32[] departments;
    }

    /// @dev Slot 0: the village; slot 1: everything a decision reads or writes.
    struct CandidateRecord {
        bytes32 villageId;
        uint32 round; // 1-based index into _rounds; 0 = not registered
        Stage stage;
        Outcome outcome;
        uint8 required; // number of required departments of the round
        uint32 given;
        uint32 recordFound;
        uint32 needsInfo;
        uint32 notApplicable;
        uint32 resolved;
    }

    IUnitRegistry private immutable _units;

    Round[] private _rounds;
    mapping(bytes32 roundId => uint32 number) private _roundNumber;
    /// @dev (round number, department) → 1 + its bit index; 0 = not required.
    mapping(uint256 number => mapping(bytes32 unitId => uint8 bitPlusOne)) private _departmentBit;
    mapping(bytes32 candidateId => CandidateRecord) private _candidates;

    /// @param units the unit registry whose keys sign.
    /// @param admin gets DEFAULT_ADMIN_ROLE and ROUND_ADMIN_ROLE (and can hand the latter
    /// to the lead department's operator).
    constructor(IUnitRegistry units, address admin) EIP712("VettingRegistry", "1") {
        if (address(units) == address(0) || admin == address(0)) {
            revert VettingRegistryInvalidSetup(address(units), admin);
        }
        _units = units;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ROUND_ADMIN_ROLE, admin);
    }

    // ---- rounds ----------------------------------------------------------------------

    /// @inheritdoc IVettingRegistry
    function openRound(
        bytes32 roundId,
        bytes32[] calldata requiredDepartments_
    ) external onlyRole(ROUND_ADMIN_ROLE) {
        if (_roundNumber[roundId] != 0) revert VettingRegistryRoundExists(roundId);
        uint256 count = requiredDepartments_.length;
        if (count == 0 || count > MAX_DEPARTMENTS) revert VettingRegistryInvalidDepartmentCount(roundId, count);

        _rounds.push(Round({id: roundId, departments: requiredDepartments_}));
        uint32 number = uint32(_rounds.length);
        _roundNumber[roundId] = number;
        for (uint256 i = 0; i < count; ++i) {
            bytes32 department = requiredDepartments_[i];
            IUnitRegistry.Level level = _units.levelOf(department);
            if (level != IUnitRegistry.Level.County) {
                revert VettingRegistryInvalidDepartment(roundId, department, level);
            }
            if (_departmentBit[number][department] != 0) {
                revert VettingRegistryDuplicateDepartment(roundId, department);
            }
            _departmentBit[number][department] = uint8(i + 1);
        }
        emit RoundOpened(roundId, requiredDepartments_);
    }

    // ---- registration ----------------------------------------------------------------

    /// @inheritdoc IVettingRegistry
    function registerCandidate(Registration calldata registration, bytes calldata signature) external {
        _register(registration, signature);
    }

    /// @inheritdoc IVettingRegistry
    function registerCandidates(Registration[] calldata registrations, bytes[] calldata signatures) external {
        if (registrations.length != signatures.length) {
            revert VettingRegistryLengthMismatch(registrations.length, signatures.length);
        }
        for (uint256 i = 0; i < registrations.length; ++i) {
            _register(registrations[i], signatures[i]);
        }
    }

    function _register(Registration calldata r, bytes calldata signature) private {
        CandidateRecord storage c = _candidates[r.candidateId];
        if (c.round != 0) revert VettingRegistryCandidateExists(r.candidateId);
        uint32 number = _roundNumber[r.roundId];
        if (number == 0) revert VettingRegistryUnknownRound(r.roundId);
        _checkSigner(r.villageId, IUnitRegistry.Level.Village, _hashTypedDataV4(_hashRegistration(r)), signature);

        c.villageId = r.villageId;
        c.round = number;
        c.stage = Stage.PreReview;
        c.required = uint8(_rounds[number - 1].departments.length);
        emit CandidateRegistered(r.candidateId, r.roundId, r.villageId, r.leafHash);
    }

    // ---- decisions -------------------------------------------------------------------

    /// @inheritdoc IVettingRegistry
    function submitDecision(Decision calldata decision, bytes calldata signature) external {
        _decide(decision, signature);
    }

    /// @inheritdoc IVettingRegistry
    function submitDecisions(Decision[] calldata decisions, bytes[] calldata signatures) external {
        if (decisions.length != signatures.length) {
            revert VettingRegistryLengthMismatch(decisions.length, signatures.length);
        }
        for (uint256 i = 0; i < decisions.length; ++i) {
            _decide(decisions[i], signatures[i]);
        }
    }

    /// @dev Checks in order: the candidate exists and is not concluded, the stage is the
    /// open one, the unit has jurisdiction, the verdict fits the stage, then the signature.
    function _decide(Decision calldata d, bytes calldata signature) private {
        CandidateRecord storage c = _candidates[d.candidateId];
        _checkOpen(d.candidateId, c);
        if (d.stage != uint8(c.stage)) revert VettingRegistryOutOfOrder(d.candidateId, uint8(c.stage), d.stage);

        if (c.stage == Stage.JointReview) {
            uint32 bit = _checkDepartment(d, c);
            _checkSigner(d.unitId, IUnitRegistry.Level.County, _hashTypedDataV4(_hashDecision(d)), signature);
            _recordOpinion(d, c, bit);
        } else {
            IUnitRegistry.Level level = _checkReviewer(d, c);
            _checkSigner(d.unitId, level, _hashTypedDataV4(_hashDecision(d)), signature);
            _recordVerdict(d, c);
        }
    }

    /// @dev Stages 1–2: a verdict. PASS opens the next stage; FAIL and RETURN conclude.
    function _recordVerdict(Decision calldata d, CandidateRecord storage c) private {
        Verdict verdict = Verdict(d.verdict);
        emit StageDecided(d.candidateId, c.stage, d.unitId, verdict, d.clausesHash, d.leafHash);
        if (verdict == Verdict.Pass) {
            c.stage = Stage(uint8(c.stage) + 1);
        } else {
            _conclude(d, c, verdict == Verdict.Fail ? Outcome.Failed : Outcome.Returned);
        }
    }

    /// @dev Stage 3: a first opinion, or (while Deferred) the one resolving opinion of a
    /// department that said NEEDS_INFO; then the outcome once every opinion is in.
    function _recordOpinion(Decision calldata d, CandidateRecord storage c, uint32 bit) private {
        Opinion opinion = Opinion(d.verdict);
        bool resolving = c.outcome == Outcome.Deferred;
        uint32 given = c.given;
        uint32 recordFound = c.recordFound;
        uint32 needsInfo = c.needsInfo;
        uint32 notApplicable = c.notApplicable;
        if (resolving) {
            needsInfo &= ~bit;
            c.resolved |= bit;
        } else {
            given |= bit;
            c.given = given;
        }
        if (opinion == Opinion.RecordFound) recordFound |= bit;
        else if (opinion == Opinion.NeedsInfo) needsInfo |= bit;
        else if (opinion == Opinion.NotApplicable) notApplicable |= bit;
        c.recordFound = recordFound;
        c.needsInfo = needsInfo;
        c.notApplicable = notApplicable;
        emit OpinionGiven(d.candidateId, d.unitId, opinion, resolving, d.clausesHash, d.leafHash);

        if (given != _mask(c.required)) return;
        Outcome outcome = recordFound != 0 ? Outcome.Failed : needsInfo != 0 ? Outcome.Deferred : Outcome.Passed;
        if (outcome != c.outcome) _conclude(d, c, outcome);
    }

    function _conclude(Decision calldata d, CandidateRecord storage c, Outcome outcome) private {
        c.outcome = outcome;
        emit CandidateConcluded(d.candidateId, outcome, d.leafHash);
    }

    // ---- checks ----------------------------------------------------------------------

    function _checkOpen(bytes32 candidateId, CandidateRecord storage c) private view {
        if (c.round == 0) revert VettingRegistryUnknownCandidate(candidateId);
        Outcome outcome = c.outcome;
        if (outcome != Outcome.None && outcome != Outcome.Deferred) {
            revert VettingRegistryConcluded(candidateId, outcome);
        }
    }

    /// @dev Stage 1: the candidate's village; stage 2: that village's township. Returns the
    /// level the signer must have. Verdict PASS, FAIL (with clauses) or RETURN.
    function _checkReviewer(
        Decision calldata d,
        CandidateRecord storage c
    ) private view returns (IUnitRegistry.Level level) {
        bytes32 villageId = c.villageId;
        bytes32 reviewer;
        if (c.stage == Stage.PreReview) {
            (reviewer, level) = (villageId, IUnitRegistry.Level.Village);
        } else {
            (reviewer, level) = (_units.parentOf(villageId), IUnitRegistry.Level.Township);
        }
        if (d.unitId != reviewer) revert VettingRegistryWrongJurisdiction(d.candidateId, d.stage, d.unitId);
        if (d.verdict == uint8(Verdict.None) || d.verdict > uint8(Verdict.Return)) {
            revert VettingRegistryInvalidVerdict(d.candidateId, d.stage, d.verdict);
        }
        if (d.verdict == uint8(Verdict.Fail) && d.clausesHash == bytes32(0)) {
            revert VettingRegistryMissingClauses(d.candidateId, d.stage, d.unitId);
        }
    }

    /// @dev Stage 3: a department the round requires, with its opinion still to give (or,
    /// while Deferred, its NEEDS_INFO still to resolve). Returns its bit.
    function _checkDepartment(Decision calldata d, CandidateRecord storage c) private view returns (uint32 bit) {
        uint8 bitPlusOne = _departmentBit[c.round][d.unitId];
        if (bitPlusOne == 0) revert VettingRegistryWrongJurisdiction(d.candidateId, d.stage, d.unitId);
        bit = uint32(1) << (bitPlusOne - 1);

        bool resolving = c.outcome == Outcome.Deferred;
        if (resolving ? c.needsInfo & bit == 0 : c.given & bit != 0) {
            revert VettingRegistryDuplicateOpinion(d.candidateId, d.unitId);
        }
        uint8 verdict = d.verdict;
        if (
            verdict == uint8(Opinion.None) ||
            verdict > uint8(Opinion.NotApplicable) ||
            (resolving && verdict == uint8(Opinion.NeedsInfo))
        ) {
            revert VettingRegistryInvalidVerdict(d.candidateId, d.stage, verdict);
        }
        if (verdict == uint8(Opinion.RecordFound) && d.clausesHash == bytes32(0)) {
            revert VettingRegistryMissingClauses(d.candidateId, d.stage, d.unitId);
        }
    }

    /// @dev The signature must be by the unit's key valid now (`IUnitRegistry.keyOf`, read
    /// with level and active flag in one `IUnitRegistry.unit` call). OpenZeppelin ECDSA
    /// rejects high-s, v ∉ {27, 28} and lengths other than 65.
    function _checkSigner(
        bytes32 unitId,
        IUnitRegistry.Level level,
        bytes32 digest,
        bytes calldata signature
    ) private view {
        address signer = ECDSA.recoverCalldata(digest, signature);
        IUnitRegistry.Unit memory u = _units.unit(unitId);
        if (u.level != level) revert VettingRegistryWrongLevel(unitId, level, u.level);
        if (!u.active) revert VettingRegistryInactiveUnit(unitId);
        if (signer != u.key) revert VettingRegistryInvalidSigner(unitId, signer, u.key);
    }

    // ---- views -----------------------------------------------------------------------

    /// @inheritdoc IVettingRegistry
    function unitRegistry() external view returns (IUnitRegistry) {
        return _units;
    }

    /// @inheritdoc IVettingRegistry
    function candidate(bytes32 candidateId) external view returns (Candidate memory) {
        CandidateRecord storage c = _candidates[candidateId];
        return
            Candidate({
                roundId: c.round == 0 ? bytes32(0) : _rounds[c.round - 1].id,
                villageId: c.villageId,
                stage: c.stage,
                outcome: c.outcome,
                opinionsGiven: c.given,
                recordFound: c.recordFound,
                needsInfo: c.needsInfo,
                notApplicable: c.notApplicable,
                resolved: c.resolved
            });
    }

    /// @inheritdoc IVettingRegistry
    function requiredDepartments(bytes32 roundId) external view returns (bytes32[] memory) {
        uint32 number = _roundNumber[roundId];
        return number == 0 ? new bytes32[](0) : _rounds[number - 1].departments;
    }

    /// @inheritdoc IVettingRegistry
    function hashRegistration(Registration calldata registration) external view returns (bytes32) {
        return _hashTypedDataV4(_hashRegistration(registration));
    }

    /// @inheritdoc IVettingRegistry
    function hashDecision(Decision calldata decision) external view returns (bytes32) {
        return _hashTypedDataV4(_hashDecision(decision));
    }

    // ---- encoding --------------------------------------------------------------------

    function _hashRegistration(Registration calldata r) private pure returns (bytes32) {
        return keccak256(abi.encode(REGISTRATION_TYPEHASH, r.candidateId, r.roundId, r.villageId, r.leafHash));
    }

    function _hashDecision(Decision calldata d) private pure returns (bytes32) {
        return
            keccak256(
                abi.encode(DECISION_TYPEHASH, d.candidateId, d.stage, d.unitId, d.verdict, d.clausesHash, d.leafHash)
            );
    }

    /// @dev The bitmap with the low `count` bits set (count ≤ 32).
    function _mask(uint8 count) private pure returns (uint32) {
        return uint32((uint256(1) << count) - 1);
    }
}
