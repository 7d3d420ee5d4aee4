// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IUnitRegistry} from "./IUnitRegistry.sol";

/// @title The two-committee (两委) candidate vetting chain
/// @notice A candidate of an election round is registered by its village, then passes
/// three ordered stages: the village's pre-review (预审), the preliminary review (初审) by the
/// village's township, and the joint review (联审) in which every department the round
/// requires gives one opinion. The contract keeps the order, the jurisdictions and the
/// outcome; the files, the reasons and every personal detail stay off chain. A candidate
/// is named by `candidateId`, a commitment computed off chain.
///
/// Every registration and decision is EIP-712 typed data signed by the acting unit's key
/// and relayed by anyone. Domain: name "VettingRegistry", version "1", the chain id and
/// this contract's address. Typed data (field order is part of the encoding):
///
///     Registration(bytes32 candidateId,bytes32 roundId,bytes32 villageId,bytes32 leafHash)
///     Decision(bytes32 candidateId,uint8 stage,bytes32 unitId,uint8 verdict,bytes32 clausesHash,bytes32 leafHash)
///
/// `leafHash` is the SHA-256 leaf hash of the same act's entry in the off-chain Merkle log;
/// `clausesHash` commits to the negative-list clause codes a decision relies on (zero for
/// none; see `ledger.chain.vetting.clauses_hash`).
///
/// A signature is checked against the unit's key *now* (`IUnitRegistry.keyOf`, read through
/// `IUnitRegistry.unit`): typed data carry no signing time, so after a rotation a decision
/// signed by the old key must be signed again by the new one. The unit must be active and
/// of the stage's level. Signatures are 65 bytes r‖s‖v; OpenZeppelin ECDSA refuses a high s
/// (ECDSAInvalidSignatureS), a v other than 27 or 28 (ECDSAInvalidSignature) and other
/// lengths (ECDSAInvalidSignatureLength).
///
/// Outcome: FAIL at stage 1 or 2 → Failed; RETURN at stage 1 or 2 → Returned (terminal: a
/// corrected file is registered as a new candidate id); once every required opinion is in:
/// any RECORD_FOUND → Failed, else any NEEDS_INFO → Deferred, else Passed. While Deferred,
/// each department that said NEEDS_INFO may give one resolving opinion (NO_RECORD,
/// RECORD_FOUND or NOT_APPLICABLE) and the outcome is computed again. Passed, Failed and
/// Returned are final.
interface IVettingRegistry {
    /// @notice The stages, in their order. A candidate's `stage` is the one open for it
    /// (for a final outcome: the stage at which it concluded).
    enum Stage {
        None, // unknown candidate
        PreReview, // 1: 预审 by the candidate's village
        PreliminaryReview, // 2: 初审 by the village's township
        JointReview // 3: 联审 by the round's required departments
    }

    /// @notice Stage 1 and 2 verdicts.
    enum Verdict {
        None, // invalid
        Pass,
        Fail, // needs a non-zero clausesHash
        Return // the file is incomplete (退回补正)
    }

    /// @notice Stage 3 opinions.
    enum Opinion {
        None, // invalid
        NoRecord, // 无异议
        RecordFound, // 有异议; needs a non-zero clausesHash
        NeedsInfo, // verification pending
        NotApplicable
    }

    /// @notice The outcome; `None` while pending. Deferred is provisional, the rest final.
    enum Outcome {
        None,
        Passed,
        Failed,
        Deferred,
        Returned
    }

    /// @notice EIP-712 `Registration`, signed by the village's key.
    struct Registration {
        bytes32 candidateId;
        bytes32 roundId;
        bytes32 villageId;
        bytes32 leafHash;
    }

    /// @notice EIP-712 `Decision`, signed by the deciding unit's key. `stage` is a `Stage`,
    /// `verdict` a `Verdict` (stages 1–2) or an `Opinion` (stage 3), both as uint8.
    struct Decision {
        bytes32 candidateId;
        uint8 stage;
        bytes32 unitId;
        uint8 verdict;
        bytes32 clausesHash;
        bytes32 leafHash;
    }

    /// @notice A candidate's state. Bit i of each bitmap is `requiredDepartments(roundId)[i]`.
    /// `opinionsGiven`: departments that gave their first opinion; `recordFound`, `needsInfo`,
    /// `notApplicable`: each department's current opinion (neither bit set: NO_RECORD);
    /// `resolved`: departments whose NEEDS_INFO was replaced by a resolving opinion.
    struct Candidate {
        bytes32 roundId;
        bytes32 villageId;
        Stage stage;
        Outcome outcome;
        uint32 opinionsGiven;
        uint32 recordFound;
        uint32 needsInfo;
        uint32 notApplicable;
        uint32 resolved;
    }

    /// @notice The constructor was given the zero address as admin or as unit registry.
    error VettingRegistryInvalidSetup(address units, address admin);
    /// @notice `roundId` was opened before.
    error VettingRegistryRoundExists(bytes32 roundId);
    /// @notice No round `roundId` was opened.
    error VettingRegistryUnknownRound(bytes32 roundId);
    /// @notice A round needs 1 to 32 required departments; `count` were given.
    error VettingRegistryInvalidDepartmentCount(bytes32 roundId, uint256 count);
    /// @notice `unitId` is not a registered county unit (its level is `level`).
    error VettingRegistryInvalidDepartment(bytes32 roundId, bytes32 unitId, IUnitRegistry.Level level);
    /// @notice `unitId` appears twice in the round's required departments.
    error VettingRegistryDuplicateDepartment(bytes32 roundId, bytes32 unitId);
    /// @notice `candidateId` is already registered (in any round).
    error VettingRegistryCandidateExists(bytes32 candidateId);
    /// @notice `candidateId` was never registered.
    error VettingRegistryUnknownCandidate(bytes32 candidateId);
    /// @notice The signer must be a unit of `expected` level; `unitId` is of `actual` level.
    error VettingRegistryWrongLevel(bytes32 unitId, IUnitRegistry.Level expected, IUnitRegistry.Level actual);
    /// @notice `unitId` is deactivated in the unit registry.
    error VettingRegistryInactiveUnit(bytes32 unitId);
    /// @notice The signature recovers to `signer`, not to `unitId`'s current key `expected`.
    error VettingRegistryInvalidSigner(bytes32 unitId, address signer, address expected);
    /// @notice `candidateId` awaits a decision of `expectedStage`; one of `givenStage` came.
    error VettingRegistryOutOfOrder(bytes32 candidateId, uint8 expectedStage, uint8 givenStage);
    /// @notice `unitId` has no jurisdiction over `candidateId` at `stage` (stage 1: not its
    /// village; stage 2: not its village's township; stage 3: not required by its round).
    error VettingRegistryWrongJurisdiction(bytes32 candidateId, uint8 stage, bytes32 unitId);
    /// @notice `verdict` is not a verdict of `stage`, or NEEDS_INFO given as a resolving opinion.
    error VettingRegistryInvalidVerdict(bytes32 candidateId, uint8 stage, uint8 verdict);
    /// @notice A FAIL or RECORD_FOUND without clause codes (zero clausesHash).
    error VettingRegistryMissingClauses(bytes32 candidateId, uint8 stage, bytes32 unitId);
    /// @notice `unitId` already gave its opinion on `candidateId` (and has no resolving one left).
    error VettingRegistryDuplicateOpinion(bytes32 candidateId, bytes32 unitId);
    /// @notice `candidateId` has the final outcome `outcome`; nothing more is accepted.
    error VettingRegistryConcluded(bytes32 candidateId, Outcome outcome);
    /// @notice A batch with `decisions` decisions and `signatures` signatures.
    error VettingRegistryLengthMismatch(uint256 decisions, uint256 signatures);

    /// @notice A round was opened with its required departments (bit i = `departments[i]`).
    event RoundOpened(bytes32 indexed roundId, bytes32[] departments);
    /// @notice A candidate was registered by its village.
    event CandidateRegistered(
        bytes32 indexed candidateId,
        bytes32 indexed roundId,
        bytes32 indexed villageId,
        bytes32 leafHash
    );
    /// @notice A stage 1 or 2 verdict was recorded.
    event StageDecided(
        bytes32 indexed candidateId,
        Stage stage,
        bytes32 indexed unitId,
        Verdict verdict,
        bytes32 clausesHash,
        bytes32 leafHash
    );
    /// @notice A joint-review opinion was recorded; `resolving` for the one that replaces a
    /// NEEDS_INFO while the candidate is Deferred.
    event OpinionGiven(
        bytes32 indexed candidateId,
        bytes32 indexed unitId,
        Opinion opinion,
        bool resolving,
        bytes32 clausesHash,
        bytes32 leafHash
    );
    /// @notice The candidate's outcome changed to `outcome` by the decision of `leafHash`.
    event CandidateConcluded(bytes32 indexed candidateId, Outcome outcome, bytes32 leafHash);

    /// @notice The role that opens election rounds (the lead department's operator).
    function ROUND_ADMIN_ROLE() external view returns (bytes32);

    /// @notice keccak256 of the `Registration` type string.
    function REGISTRATION_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the `Decision` type string.
    function DECISION_TYPEHASH() external view returns (bytes32);

    /// @notice The unit registry whose keys sign registrations and decisions.
    function unitRegistry() external view returns (IUnitRegistry);

    /// @notice Open a round with the county departments whose opinions it requires.
    /// @dev Only ROUND_ADMIN_ROLE. 1 to 32 departments, each a registered county unit, no
    /// duplicates; bit i of the candidates' bitmaps is `requiredDepartments[i]`.
    function openRound(bytes32 roundId, bytes32[] calldata requiredDepartments) external;

    /// @notice Register a candidate, signed by its village's key; anyone may relay.
    function registerCandidate(Registration calldata registration, bytes calldata signature) external;

    /// @notice Register many candidates in one transaction (all or none).
    function registerCandidates(Registration[] calldata registrations, bytes[] calldata signatures) external;

    /// @notice Record one decision, signed by the deciding unit's key; anyone may relay.
    function submitDecision(Decision calldata decision, bytes calldata signature) external;

    /// @notice Record decisions in order, in one transaction (all or none). Several decisions
    /// on one candidate may follow each other in a batch.
    function submitDecisions(Decision[] calldata decisions, bytes[] calldata signatures) external;

    /// @notice A candidate's state (all zero, `stage` None, for an unknown candidate).
    function candidate(bytes32 candidateId) external view returns (Candidate memory);

    /// @notice A round's required departments, in bitmap order (empty for an unknown round).
    function requiredDepartments(bytes32 roundId) external view returns (bytes32[] memory);

    /// @notice The EIP-712 digest a village signs for `registration` on this contract.
    function hashRegistration(Registration calldata registration) external view returns (bytes32);

    /// @notice The EIP-712 digest a unit signs for `decision` on this contract.
    function hashDecision(Decision calldata decision) external view returns (bytes32);
}
