"""The Hunchun demo (DOMAIN.md §7): its units, the round of 2026, and who acts for them.

Townships and streets carry their statistical division codes (2022-10-31); villages and
communities, whose 12-digit codes are not public, carry ``DEMO-`` codes. The six
candidates (§7.4) and the datasets and grants (§7.5) are data here, used by the API tests
and loaded by ``ledger demo`` (:mod:`ledger.demo_loader`); the persons are synthetic and
their ID numbers invented (valid check digits, never real people).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

CITY: Final = "222404"

TOWNSHIPS: Final[dict[str, str]] = {
    "222404001": "靖和街道",
    "222404002": "新安街道",
    "222404003": "河南街道",
    "222404006": "海东街道",
    "222404060": "近海街道",
    "222404100": "春化镇",
    "222404101": "敬信镇",
    "222404102": "板石镇",
    "222404103": "英安镇",
    "222404200": "马川子乡",
    "222404201": "杨泡满族乡",
    "222404202": "三家子满族乡",
    "222404203": "密江乡",
    "222404204": "哈达门乡",
}

# code -> (name, township)
VILLAGES: Final[dict[str, tuple[str, str]]] = {
    "DEMO-TUANJIE": ("团结社区", "222404002"),
    "DEMO-FANGCHUAN": ("防川村", "222404101"),
    "DEMO-MENGLING": ("孟岭村", "222404102"),
    "DEMO-MIJIANG": ("密江村", "222404203"),
    "DEMO-JIEFANG": ("解放村", "222404203"),
    "DEMO-SANAN": ("三安村", "222404203"),
    "DEMO-MAXIN": ("马新村", "222404200"),
    "DEMO-HONGXING": ("红星村", "222404200"),
}

# code -> name; "SZ" (the data authority, 市政数局) is the platform unit `ledger init` makes.
DEPARTMENTS: Final[dict[str, str]] = {
    "ORG": "中共珲春市委组织部",
    "SWD": "中共珲春市委社会工作部",
    "MZ": "珲春市民政局",
    "JW": "中共珲春市纪律检查委员会/珲春市监察委员会",
    "ZF": "中共珲春市委政法委员会",
    "GA": "珲春市公安局",
    "FY": "珲春市人民法院",
    "JCY": "珲春市人民检察院",
    "SF": "珲春市司法局",
    "XF": "珲春市信访局",
    "ZR": "珲春市自然资源局",
    "NY": "珲春市农业农村局",
    "WJ": "珲春市卫生健康局",
    "RS": "珲春市人力资源和社会保障局",
    "TY": "珲春市退役军人事务局",
}

ROUND_CODE: Final = "R2026"
ROUND_NAME: Final = "2026年村(社区)“两委”换届资格联审"
ROUND_ELECTION_DAY: Final = date(2026, 3, 15)
ROUND_LEAD: Final = "ORG"
ROUND_DEPARTMENTS: Final = ("MZ", "JW", "GA", "FY", "SF")
"""The joint-review departments of the demo round (DOMAIN.md §1.3), in bitmap order."""


# ---- the candidates (DOMAIN.md §7.4) --------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A demo unit's decision where it is not the default (PASS at a stage, NO_RECORD in the
    joint review): the verdict or opinion, the negative-list clauses it cites, its note."""

    verdict: str
    clause_codes: tuple[str, ...] = ()
    note: str | None = None


PASS: Final = Decision("PASS")
NO_RECORD: Final = Decision("NO_RECORD")


@dataclass(frozen=True)
class DemoCandidate:
    """A demo candidate: where and for what, the person, and where it is meant to end."""

    village: str
    committee: str
    post: str
    incumbent: bool
    person: Mapping[str, str]
    outcome: str
    """What the demo takes it to: PASSED, FAILED, DEFERRED or RETURNED."""
    preliminary: Decision = PASS
    """The township's preliminary review (初审); the pre-review (预审) is always PASS."""
    opinions: Mapping[str, Decision] = field(default_factory=dict)
    """The joint-review departments that do not answer NO_RECORD."""

    @property
    def township(self) -> str:
        return VILLAGES[self.village][1]

    @property
    def reaches_joint_review(self) -> bool:
        return self.preliminary.verdict == "PASS"

    def opinion(self, department: str) -> Decision:
        return self.opinions.get(department, NO_RECORD)


def _person(
    name: str, id_number: str, gender: str, ethnicity: str, status: str, education: str
) -> dict[str, str]:
    return {
        "name": name,
        "id_number": id_number,
        "gender": gender,
        "ethnicity": ethnicity,
        "political_status": status,
        "education": education,
        "phone": "0433-7500000",
        "address": "吉林省珲春市",
    }


RETURN_NOTE: Final = "缺少竞职承诺书，请补正后重新提交"
"""C6: the township returns the file, the pledge form (竞职承诺书) missing."""
FY_NOTE: Final = "疑似失信被执行人，需核实"
"""C3: the court asks for more information, a possible dishonest debtor (N9)."""
GA_NOTE: Final = "有刑事处罚记录"
"""C5: the police find a criminal record (N2)."""

DEMO_CANDIDATES: Final[dict[str, DemoCandidate]] = {
    "C1": DemoCandidate(
        "DEMO-FANGCHUAN",
        "PARTY_BRANCH",
        "书记",
        True,
        _person("金明哲", "222404197803120316", "M", "朝鲜族", "中共党员", "大专"),
        "PASSED",
    ),
    "C2": DemoCandidate(
        "DEMO-TUANJIE",
        "RESIDENTS_CMTE",
        "委员",
        False,
        _person("李春梅", "222404198506210627", "F", "汉族", "群众", "高中"),
        "PASSED",
        opinions={"MZ": Decision("NOT_APPLICABLE")},
    ),
    "C3": DemoCandidate(
        "DEMO-MENGLING",
        "VILLAGERS_CMTE",
        "主任",
        False,
        _person("朴永浩", "222404199001051573", "M", "朝鲜族", "中共党员", "本科"),
        "DEFERRED",
        opinions={"FY": Decision("NEEDS_INFO", ("N9",), FY_NOTE)},
    ),
    "C4": DemoCandidate(
        "DEMO-MIJIANG",
        "PARTY_BRANCH",
        "委员",
        False,
        _person("崔美玉", "22240419721130244X", "F", "朝鲜族", "中共党员", "中专"),
        "PASSED",
    ),
    "C5": DemoCandidate(
        "DEMO-MAXIN",
        "VILLAGERS_CMTE",
        "委员",
        False,
        _person("王海涛", "222404198810090930", "M", "汉族", "群众", "初中"),
        "FAILED",
        opinions={"GA": Decision("RECORD_FOUND", ("N2",), GA_NOTE)},
    ),
    "C6": DemoCandidate(
        "DEMO-SANAN",
        "VILLAGERS_CMTE",
        "委员",
        False,
        _person("张丽娜", "222404199504171286", "F", "满族", "共青团员", "本科"),
        "RETURNED",
        preliminary=Decision("RETURN", note=RETURN_NOTE),
    ),
}
"""DOMAIN.md §7.4: synthetic persons, invented ID numbers with valid check digits."""

PERSONAL_STRINGS: Final = [
    s
    for c in DEMO_CANDIDATES.values()
    for s in (c.person["name"], c.person["id_number"], c.person["id_number"][6:14])
]
"""What must never leave the sealed store: names, ID numbers, birth dates (YYYYMMDD)."""


# ---- the shared data (DOMAIN.md §7.5) -------------------------------------------------------

PERSONS: Final[list[dict[str, str]]] = [
    *(
        {"name": c.person["name"], "id_number": c.person["id_number"], "division": c.village}
        for c in DEMO_CANDIDATES.values()
    ),
    # A township-level row and a city-level row.
    {"name": "赵敬信", "id_number": "222404196002020011", "division": "222404101"},
    {"name": "孙全市", "id_number": "222404197007070020", "division": CITY},
]
"""The persons in every demo dataset's rows: the six candidates and two more."""


def data_item(name: str, kind: str = "string", masking: str | None = None) -> dict[str, Any]:
    """A dataset's data item (信息项) as the API takes it; personal for the person's fields."""
    personal = name in {"name", "id_number", "phone", "birth_date"}
    return {
        "name": name,
        "type": kind,
        "sensitivity": "SENSITIVE" if personal else "GENERAL",
        "personal": personal,
        "masking": masking,
    }


_IDENTITY: Final = (data_item("name", masking="name"), data_item("id_number", masking="id_number"))


@dataclass(frozen=True)
class DemoDataset:
    owner: str
    name: str
    sharing_class: str
    fields: tuple[dict[str, Any], ...]


DEMO_DATASETS: Final[dict[str, DemoDataset]] = {
    "GA-CRIME-CHECK": DemoDataset(
        "GA",
        "违法犯罪记录核验",
        "CONDITIONAL",
        (*_IDENTITY, data_item("has_record", "boolean"), data_item("clause_code")),
    ),
    "FY-DEBTOR-CHECK": DemoDataset(
        "FY",
        "失信被执行人核验",
        "CONDITIONAL",
        (*_IDENTITY, data_item("has_record", "boolean"), data_item("clause_code")),
    ),
    "TY-VETERAN": DemoDataset(
        "TY", "退役军人身份核验", "CONDITIONAL", (*_IDENTITY, data_item("is_veteran", "boolean"))
    ),
    "WJ-DEATH-CERT": DemoDataset(
        "WJ", "死亡医学证明信息", "CONDITIONAL", (*_IDENTITY, data_item("death_date", "date"))
    ),
    "RS-SW-CERT": DemoDataset(
        "RS",
        "社会工作者职业资格",
        "CONDITIONAL",
        (*_IDENTITY, data_item("cert_level"), data_item("cert_date", "date")),
    ),
    "SZ-POPULATION": DemoDataset(
        "SZ",
        "人口基础信息",
        "UNCONDITIONAL",
        (
            *_IDENTITY,
            data_item("phone", masking="phone"),
            data_item("birth_date", "date", masking="date"),
            data_item("gender"),
        ),
    ),
}
"""The six datasets of the demo grants, by resource code; each owned by a department."""


def values_for(code: str, n: int) -> dict[str, Any]:
    """The values of dataset ``code``'s row for ``PERSONS[n]``."""
    person = PERSONS[n]
    number = person["id_number"]
    extras: dict[str, dict[str, Any]] = {
        "GA-CRIME-CHECK": {"has_record": n == 4, "clause_code": "N2" if n == 4 else None},
        "FY-DEBTOR-CHECK": {"has_record": n == 2, "clause_code": "N9" if n == 2 else None},
        "TY-VETERAN": {"is_veteran": n % 2 == 0},
        "WJ-DEATH-CERT": {"death_date": "2025-11-02" if n == 7 else None},
        "RS-SW-CERT": {"cert_level": "社会工作师", "cert_date": "2021-06-19"},
        "SZ-POPULATION": {
            "phone": f"1380000{n:04d}",
            "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
            "gender": "M" if int(number[16]) % 2 else "F",
        },
    }
    return {"name": person["name"], "id_number": number} | extras[code]


SCENARIO: Final = "2026年两委换届资格联审"
LEGAL_BASIS: Final = "《政务数据共享条例》"
WINDOW_ROUND: Final = ("2026-01-05T00:00:00Z", "2026-03-31T00:00:00Z")
"""G1, G2: the round's joint review."""
WINDOW_G3: Final = ("2026-02-01T00:00:00+08:00", "2027-02-01T00:00:00+08:00")
"""G3: one year, from February (not yet active on the demo's day)."""
WINDOW_YEAR: Final = ("2026-01-10T00:00:00Z", "2027-01-10T00:00:00Z")
"""G4, G5, G6: one year."""

REQUESTERS: Final = {
    "ORG": "requester_org",
    "MZ": "requester_mz",
    "SWD": "requester_swd",
    "222404101": "requester_jingxin",
}
"""The units that request the demo grants, and the name of the principal that asks."""


@dataclass(frozen=True)
class DemoAnswer:
    """The owner's answer; ``fields`` and ``valid_until`` narrow the request when given."""

    decision: str
    fields: tuple[str, ...] | None = None
    valid_until: str | None = None


@dataclass(frozen=True)
class DemoGrant:
    requester: str
    dataset: str
    fields: tuple[str, ...]
    purpose: str
    window: tuple[str, str]
    scenario: str
    answer: DemoAnswer | None
    """None: the dataset is UNCONDITIONAL, so the platform approves the request at once."""


DEMO_GRANTS: Final[dict[str, DemoGrant]] = {
    "G1": DemoGrant(
        "ORG",
        "GA-CRIME-CHECK",
        ("has_record", "clause_code"),
        "ADMINISTRATIVE_BASIS",
        WINDOW_ROUND,
        SCENARIO,
        DemoAnswer("APPROVED"),
    ),
    "G2": DemoGrant(
        "ORG",
        "FY-DEBTOR-CHECK",
        ("has_record", "clause_code"),
        "ADMINISTRATIVE_BASIS",
        WINDOW_ROUND,
        SCENARIO,
        DemoAnswer("APPROVED", fields=("clause_code", "has_record")),
    ),
    "G3": DemoGrant(
        "MZ",
        "TY-VETERAN",
        ("is_veteran",),
        "BUSINESS_COLLABORATION",
        WINDOW_G3,
        "社区优抚服务",
        DemoAnswer("APPROVED"),
    ),
    "G4": DemoGrant(
        "MZ",
        "WJ-DEATH-CERT",
        ("death_date",),
        "DATA_VERIFICATION",
        WINDOW_YEAR,
        "低保动态管理",
        DemoAnswer("APPROVED", valid_until="2026-12-31T00:00:00Z"),
    ),
    "G5": DemoGrant(
        "SWD",
        "RS-SW-CERT",
        ("name", "cert_level", "cert_date"),
        "DATA_VERIFICATION",
        WINDOW_YEAR,
        "社工岗分级",
        DemoAnswer("PARTIALLY_APPROVED", fields=("cert_level", "cert_date")),
    ),
    "G6": DemoGrant(
        "222404101",
        "SZ-POPULATION",
        ("name", "id_number", "phone", "birth_date", "gender"),
        "WORK_REFERENCE",
        WINDOW_YEAR,
        "网格服务",
        None,
    ),
}
"""DOMAIN.md §7.5: the six grants, requested in this order and answered by their owners."""


# ---- who acts -------------------------------------------------------------------------------


def _principals() -> dict[str, tuple[str, str]]:
    villages = [c.village for c in DEMO_CANDIDATES.values()]
    return {
        "org_admin": (ROUND_LEAD, "lead_org_admin"),
        "auditor": ("JW", "auditor"),
        **{name: (unit, "requester") for unit, name in REQUESTERS.items()},
        **{f"clerk_{v}": (v, "village_clerk") for v in villages},
        **{f"sec_{v}": (v, "village_party_sec") for v in villages},
        **{f"reviewer_{VILLAGES[v][1]}": (VILLAGES[v][1], "township_reviewer") for v in villages},
        **{f"handler_{d}": (d, "unit_handler") for d in ROUND_DEPARTMENTS},
        **{f"approver_{d.owner}": (d.owner, "provider_approver") for d in DEMO_DATASETS.values()},
    }


PRINCIPALS: Final = _principals()
"""The principals ``ledger demo`` makes, one per unit and role the demo acts as:
name -> (unit, role). The API tests' ``DEMO_PRINCIPALS`` use the same names."""
