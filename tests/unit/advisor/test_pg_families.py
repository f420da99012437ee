"""The query families the PostgreSQL workload analysis resolves beyond plain tables: ``*``
positions, views, inlined CTEs, partitions (no server: the catalog is given)."""

from __future__ import annotations

from dbtop.analysis.advisor import SortKey, TableRef
from dbtop.engines.postgresql.workload import Catalog, TableInfo, analyze

POSTS = TableRef("public", "posts")
USERS = TableRef("public", "users")
POSTS_COLUMNS = ("id", "author_id", "title", "created_at", "deleted_at")
USERS_COLUMNS = ("id", "name")


def catalog(*more: TableInfo) -> Catalog:
    return Catalog(
        [
            TableInfo(POSTS, frozenset(POSTS_COLUMNS), POSTS_COLUMNS),
            TableInfo(USERS, frozenset(USERS_COLUMNS), USERS_COLUMNS),
            *more,
        ],
        ["public"],
    )


def access_of(sql: str, table: TableRef = POSTS, cat: Catalog | None = None):
    (found,) = [a for a in analyze(sql, cat or catalog()) if a.table == table]
    return found


def test_order_by_position_into_star():
    a = access_of("SELECT * FROM posts ORDER BY 1 LIMIT 10")
    assert a.order_by == (SortKey("id"),) and a.limit
    b = access_of("SELECT * FROM posts ORDER BY 4 DESC LIMIT 10")
    assert b.order_by == (SortKey("created_at", True),)
    # t.* of the second table, after a plain column: position 3 is users' name? no: posts'
    c = access_of(
        "SELECT u.name, p.* FROM users u JOIN posts p ON p.author_id = u.id ORDER BY 3 LIMIT 5"
    )
    assert c.order_by == (SortKey("author_id"),)
    # a USING join lists its merged column first: not guessed
    d = access_of("SELECT * FROM posts JOIN users USING (id) ORDER BY 2 LIMIT 5")
    assert d.order_by == ()


def view(name: str, sql: str, columns: tuple[str, ...]) -> TableInfo:
    from pglast import parse_sql

    (raw,) = parse_sql(sql)
    return TableInfo(TableRef("public", name), frozenset(columns), columns, view=raw.stmt)


LIVE_POSTS = view(
    "live_posts",
    "SELECT p.id, p.author_id, p.title AS headline, p.created_at FROM posts p "
    "WHERE p.deleted_at IS NULL",
    ("id", "author_id", "headline", "created_at"),
)
POST_COUNTS = view(
    "post_counts",
    "SELECT author_id, count(*) AS n FROM posts GROUP BY author_id",
    ("author_id", "n"),
)


def test_a_view_is_expanded_to_its_base_table():
    cat = catalog(LIVE_POSTS, POST_COUNTS)
    a = access_of("SELECT * FROM live_posts WHERE id = $1", cat=cat)
    assert a.equality == ("id",)
    # its own predicate reaches the table too, and renamed columns map back
    assert [c.sql for c in a.constants] == ["deleted_at IS NULL"]
    b = access_of("SELECT * FROM live_posts v WHERE v.author_id = $1 ORDER BY 4 LIMIT 9", cat=cat)
    assert b.equality == ("author_id",) and b.order_by == (SortKey("created_at"),) and b.limit
    assert "title" in (b.selected or ())
    # joined with a table: a lookup of the view's table by the join column
    c = access_of(
        "SELECT u.name FROM users u JOIN live_posts lp ON lp.author_id = u.id WHERE u.id = $1",
        cat=cat,
    )
    assert c.join == ("author_id",)
    # through GROUP BY a filter on the grouping column is pushed down, not one on count(*)
    d = access_of("SELECT * FROM post_counts WHERE author_id = $1 AND n > $2", cat=cat)
    assert d.equality == ("author_id",) and d.range == ()


def test_a_cte_the_planner_inlines_reaches_its_table():
    a = access_of("WITH p AS (SELECT * FROM posts) SELECT title FROM p WHERE p.author_id = $1")
    assert a.equality == ("author_id",)
    # NOT MATERIALIZED: inlined at each reference, its columns renamed
    p, q = analyze(
        "WITH p (pid, who) AS NOT MATERIALIZED (SELECT id, author_id FROM posts) "
        "SELECT * FROM p JOIN p AS q ON q.pid = p.pid WHERE p.who = $1",
        catalog(),
    )
    assert (p.equality, p.join, q.join) == (("author_id",), ("id",), ("id",))


def test_a_materialized_or_twice_read_cte_stays_a_fence():
    for sql in (
        "WITH p AS MATERIALIZED (SELECT * FROM posts) SELECT title FROM p WHERE author_id = $1",
        "WITH p AS (SELECT * FROM posts) "
        "SELECT * FROM p WHERE author_id = $1 UNION ALL SELECT * FROM p WHERE id = $2",
    ):
        (a,) = analyze(sql, catalog())
        assert (a.equality, a.join) == ((), ()), sql
    # PostgreSQL 11 and older never inline
    old = Catalog(catalog()._by_ref.values(), ["public"], inline_ctes=False)  # type: ignore[arg-type]
    (a,) = analyze("WITH p AS (SELECT * FROM posts) SELECT * FROM p WHERE id = $1", old)
    assert a.equality == ()


def test_a_simple_subquery_in_from_is_pulled_up_and_a_limited_one_is_not():
    a = access_of("SELECT * FROM (SELECT id, title FROM posts) s WHERE s.id = $1")
    assert a.equality == ("id",)
    b = access_of("SELECT * FROM (SELECT id FROM posts LIMIT 10) s WHERE s.id = $1")
    assert b.equality == ()
