"""The PostgreSQL engine (12 to 18) through asyncpg.

``engine`` holds the class; ``sessions``, ``statements``, ``indexes``, ``locks``, ``kill``,
``explain``, ``summary`` read or act on one part each; ``capabilities`` says what the server
and role allow; ``connection`` opens connections and words driver errors. Engine-only:
``plan`` (EXPLAIN JSON as a PlanNode tree) and ``generic_plan`` (generic plans for the
advisor); the advisor's own modules are ``advisor``, ``advisor_source``, ``workload`` and
``hypopg``.
"""

from dbtop.engines.postgresql.engine import PostgresEngine

__all__ = ["PostgresEngine"]
