"""The Hunchun demo (DOMAIN.md §7): its units, the round of 2026, and who acts for them.

Townships and streets carry their statistical division codes (2022-10-31); villages and
communities, whose 12-digit codes are not public, carry ``DEMO-`` codes. The demo
candidates and grants are in the tests and in ``ledger demo``; the persons are
synthetic and their ID numbers invented (valid check digits, never real people).
"""

from __future__ import annotations

from datetime import date
from typing import Final

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
