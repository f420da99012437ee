"""The PostgreSQL engine (12 to 18) through asyncpg."""

from dbtop.engines.postgresql.engine import PostgresEngine

__all__ = ["PostgresEngine"]
