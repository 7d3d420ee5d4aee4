"""The data-sharing service (共建共享 基层社会治理数据库, DOMAIN.md §2): its public surface.

Every function takes a :class:`ledger.context.Context` and runs in its transaction:

- datasets (资源目录) and their rows, bulk-ingested and sealed per batch:
  :func:`publish`, :func:`ingest`, :func:`read_dataset`, :func:`list_datasets`;
- grant requests, answers and revocations (DOMAIN.md §6.3): :func:`request_grant`,
  :func:`answer`, :func:`revoke`, :func:`get_request`, :func:`list_requests`,
  :func:`get_grant`, :func:`list_grants`;
- governed reads, each logged, and the access trail: :func:`read`,
  :func:`access_trail`, :func:`grant_access_trail`.
"""

from __future__ import annotations

from ledger.sharing.datasets import (
    MAX_ROWS,
    DatasetInfo,
    Ingested,
    NewRow,
    ingest,
    list_datasets,
    publish,
    read_dataset,
)
from ledger.sharing.grants import answer, request_grant, revoke
from ledger.sharing.reads import (
    MAX_LIMIT,
    AccessInfo,
    ReadResult,
    SharedRow,
    access_trail,
    grant_access_trail,
    read,
)
from ledger.sharing.views import (
    Answer,
    GrantInfo,
    RequestInfo,
    get_grant,
    get_request,
    list_grants,
    list_requests,
)

__all__ = [
    "MAX_LIMIT",
    "MAX_ROWS",
    "AccessInfo",
    "Answer",
    "DatasetInfo",
    "GrantInfo",
    "Ingested",
    "NewRow",
    "ReadResult",
    "RequestInfo",
    "SharedRow",
    "access_trail",
    "answer",
    "get_grant",
    "get_request",
    "grant_access_trail",
    "ingest",
    "list_datasets",
    "list_grants",
    "list_requests",
    "publish",
    "read",
    "read_dataset",
    "request_grant",
    "revoke",
]
