"""The engine-neutral index advisor: candidates from a workload, a greedy verified choice.

Pure: no I/O, no driver. An engine feeds it and supplies the what-if costs.

Input (``workload.py``)
    ``Workload(queries, tables, total_ms)``:

    - ``QueryInfo(id, text, calls, total_ms, accesses)`` per normalized statement (a
      pg_stat_statements row, a MySQL digest, a MongoDB query shape, a running session's
      query); its weight is ``total_ms`` (calls × mean time) over ``Workload.total``.
    - ``TableAccess`` per table the statement reaches: ``equality``, ``range``, ``join``,
      ``in_list`` columns, ``order_by`` (``SortKey(column, descending)``) with ``limit``,
      ``group_by``, ``constants`` (``Constant(column, sql)``: parameter-free predicates such as
      ``deleted_at IS NULL``, for partial indexes) and ``selected`` (every column read, or
      None for all: for INCLUDE / index-only scans).
    - ``TableFacts(table, rows, size_bytes, columns, indexes)``: the row estimate,
      ``ColumnFacts(name, n_distinct, null_frac, avg_width, max_frequency)`` per column
      (PostgreSQL's pg_stats conventions: n_distinct < 0 is a fraction of the rows) and the
      existing indexes as ``ExistingIndex(name, table, columns, include, descending, where,
      method, valid, unique)`` (a None column is an expression).

    A MySQL engine fills the same from sqlglot-parsed digests and information_schema
    statistics (``covering="key"`` in the settings: no INCLUDE); a MongoDB engine from query
    shapes, with equality / sort / range fields (ESR order is what ``generate`` produces when
    the ORDER BY keys are given as ``order_by``) and ``covering="key"``.

Steps
    1. ``candidates.generate(workload, settings)`` → ``CandidateSet(candidates, rejected)``:
       single- and multi-column candidates, lookups first, then a range or the sort; covering
       and partial variants; drops tiny tables, non-selective lookups and what an existing
       index serves through its leading columns, each with a ``Rejection`` reason.
    2. ``selection.select(workload, candidates, oracle, settings)`` → ``Selection``: the
       greedy choice weighted by time, with costs from a ``CostOracle`` (hypothetical
       indexes and the planner where the engine has them; ``estimate.HeuristicOracle``
       otherwise), and a stated reason for every candidate not chosen.

    3. ``advise(Prepared(workload, chosen, rejected, findings, notices, sizes, extra),
       dialect)`` → ``model.Advice``: the one suggestion builder (``suggestions.py``: the
       costs and shares of each choice, the index name by ``index_name``'s one rule); the
       engine's ``Dialect`` only renders its DDL, its reason (the evidence) and its extra
       fields.

The statement parsers of the engines collect each table occurrence in an ``AccessBuilder``
(``access.py``), the one table-access model.
"""

from dbtop.analysis.advisor.access import AccessBuilder
from dbtop.analysis.advisor.advise import Prepared, advise
from dbtop.analysis.advisor.candidates import (
    AdvisorSettings,
    Candidate,
    CandidateSet,
    generate,
    served_by,
    shared_constants,
)
from dbtop.analysis.advisor.estimate import HeuristicOracle, estimated_size
from dbtop.analysis.advisor.replacement import Replacement, made_redundant
from dbtop.analysis.advisor.selection import (
    Choice,
    CostOracle,
    Effect,
    Selection,
    relative_cost,
    select,
)
from dbtop.analysis.advisor.suggestions import Dialect, Draft, IndexNaming, index_name
from dbtop.analysis.advisor.workload import (
    ColumnFacts,
    Constant,
    ExistingIndex,
    QueryInfo,
    SortKey,
    TableAccess,
    TableFacts,
    TableRef,
    WorkItem,
    Workload,
)

__all__ = [
    "AccessBuilder",
    "AdvisorSettings",
    "Candidate",
    "CandidateSet",
    "Choice",
    "ColumnFacts",
    "Constant",
    "CostOracle",
    "Dialect",
    "Draft",
    "Effect",
    "ExistingIndex",
    "HeuristicOracle",
    "IndexNaming",
    "Prepared",
    "QueryInfo",
    "Replacement",
    "Selection",
    "SortKey",
    "TableAccess",
    "TableFacts",
    "TableRef",
    "WorkItem",
    "Workload",
    "advise",
    "estimated_size",
    "generate",
    "index_name",
    "made_redundant",
    "relative_cost",
    "select",
    "served_by",
    "shared_constants",
]
