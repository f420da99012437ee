"""The scopes of a parsed PostgreSQL statement walked into table accesses (pglast AST).

``Walker`` keeps one ``AccessBuilder`` per table occurrence it meets and fills it from
predicates, joins, sorts, grouping and the columns read; ``workload.analyze`` drives it.
Name resolution follows the server's rules: see ``workload.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from pglast import ast
from pglast.enums import (
    A_Expr_Kind,
    BoolExprType,
    BoolTestType,
    LimitOption,
    NullTestType,
    SetOperation,
    SortByDir,
    SortByNulls,
    SubLinkType,
)
from pglast.stream import RawStream

from dbtop.analysis.advisor import Constant, SortKey
from dbtop.analysis.advisor.access import AccessBuilder
from dbtop.engines.postgresql.derived import CteDef, Ctes, ctes_of, derived_rel
from dbtop.engines.postgresql.scopes import Column, Rel, Resolver, Scope, walk_nodes
from dbtop.engines.postgresql.sqlnames import quote_ident

if TYPE_CHECKING:
    from dbtop.engines.postgresql.workload import Catalog

_RANGE_OPS = frozenset({"<", ">", "<=", ">="})


class Walker(Resolver):
    def __init__(self, catalog: Catalog, user: str | None) -> None:
        self.catalog = catalog
        self.user = user
        self.accesses: list[AccessBuilder] = []

    # -- statements ----------------------------------------------------------------------

    def select(self, stmt: Any, parent: Scope | None, ctes: Ctes) -> Scope:
        """Walk a SELECT whose outer scope is ``parent`` and that sees the CTE ``ctes``."""
        ctes = self.ctes_of(stmt, parent, ctes)
        if stmt.op is not None and stmt.op != SetOperation.SETOP_NONE:
            self.select(stmt.larg, parent, ctes)
            return self.select(stmt.rarg, parent, ctes)
        scope = Scope(parent, ctes)
        for item in stmt.fromClause or ():
            self._from_item(item, scope, ctes)
        for values in stmt.valuesLists or ():
            self._expression(values, scope)
        scope.targets = tuple(stmt.targetList or ())
        for target in scope.targets:
            self._expression(target.val, scope)
        self._predicate(stmt.whereClause, scope)
        self._expression(stmt.havingClause, scope)
        group = [self._target_column(node, scope) for node in stmt.groupClause or ()]
        for col in group:
            if col is not None:
                col[0].group_by.append(col[1])
        self._order(stmt.sortClause or (), scope, _has_limit(stmt))
        for clause in (stmt.limitCount, stmt.limitOffset, stmt.distinctClause):
            self._expression(clause, scope)
        return scope

    def modify(self, stmt: Any, parent: Scope | None = None) -> None:
        ctes = self.ctes_of(stmt, parent, parent.ctes if parent else {})
        scope = Scope(parent, ctes)
        rel = self._range_var(stmt.relation, scope, ctes)
        if rel is not None and rel.acc is not None:
            rel.acc.star = True  # the row is rewritten or removed: the heap is read anyway
        for item in getattr(stmt, "fromClause", None) or getattr(stmt, "usingClause", None) or ():
            self._from_item(item, scope, ctes)
        for target in getattr(stmt, "targetList", None) or ():
            self._expression(target.val, scope)
        self._predicate(stmt.whereClause, scope)
        returning = getattr(stmt, "returningClause", None) or getattr(stmt, "returningList", None)
        self._expression(returning, scope)

    def merge(self, stmt: Any) -> None:
        """MERGE: the target is probed for each source row through the join condition."""
        ctes = self.ctes_of(stmt, None, {})
        scope = Scope(None, ctes)
        rel = self._range_var(stmt.relation, scope, ctes)
        if rel is not None and rel.acc is not None:
            rel.acc.star = True
        self._from_item(stmt.sourceRelation, scope, ctes)
        self._predicate(stmt.joinCondition, scope)
        for when in stmt.mergeWhenClauses or ():
            self._expression(when.condition, scope)
            self._expression(when.targetList, scope)
            self._expression(when.values, scope)

    def ctes_of(self, owner: Any, parent: Scope | None, ctes: Ctes) -> dict[str, CteDef | None]:
        return ctes_of(self, owner, parent, ctes, inline=self.catalog.inline_ctes)

    # -- FROM ----------------------------------------------------------------------------

    def _from_item(self, item: Any, scope: Scope, ctes: Ctes) -> list[Rel]:
        """Add a FROM item's names to the scope; returns the names it brought."""
        if isinstance(item, ast.RangeVar):
            rel = self._range_var(item, scope, ctes)
            return [rel] if rel is not None else []
        if isinstance(item, ast.JoinExpr):
            left = self._from_item(item.larg, scope, ctes)
            right = self._from_item(item.rarg, scope, ctes)
            for name in item.usingClause or ():
                column = name.sval
                for side in (left, right):
                    for rel in side:
                        if rel.acc is not None and column in rel.acc.columns:
                            rel.acc.join.append(column)
                            rel.acc.read[column] = None
                            break
            if item.usingClause or item.isNatural:
                scope.merged_join = True
            self._predicate(item.quals, scope)
            alias = item.alias.aliasname if item.alias is not None else None
            if alias:
                derived = Rel(alias, None, aliased=True)
                scope.rels.append(derived)
                return [*left, *right, derived]
            return [*left, *right]
        if isinstance(item, ast.RangeSubselect):
            named = item.alias
            rel = derived_rel(
                self,
                item.subquery,
                scope if item.lateral else scope.parent,
                scope.ctes,
                str(named.aliasname) if named else "?subquery",
                tuple(str(n.sval) for n in (named.colnames if named else None) or ()),
            )
            scope.rels.append(rel)
            return [rel]
        # functions, VALUES, table samples, JSON tables: nothing to index, but their
        # arguments may hold subqueries
        self._expression(item, scope)
        alias = getattr(item, "alias", None)
        rel = Rel(alias.aliasname if alias is not None else "?function", None, aliased=True)
        scope.rels.append(rel)
        return [rel]

    def _range_var(self, node: Any, scope: Scope, ctes: Ctes) -> Rel | None:
        alias = node.alias.aliasname if node.alias is not None else None
        colnames = tuple(str(n.sval) for n in (node.alias.colnames if node.alias else None) or ())
        info = None
        if node.schemaname is None and node.relname in ctes:
            cte = ctes[node.relname]
            if cte is None:
                rel = Rel(alias or node.relname, None, aliased=True)
            else:
                rel = derived_rel(
                    self,
                    cte.query,
                    cte.parent,
                    cte.ctes,
                    alias or node.relname,
                    colnames or cte.colnames,
                )
        elif (info := self.catalog.resolve(node.schemaname, node.relname, self.user)) and (
            info.view is not None
        ):
            # a view is replaced by its query (which sees no CTE of this statement)
            rel = derived_rel(self, info.view, None, {}, alias or node.relname, colnames)
        else:
            acc = None
            if info is not None:
                acc = AccessBuilder(info.table, info.columns)
                self.accesses.append(acc)
            rel = Rel(
                alias or node.relname,
                acc,
                table_name=node.relname,
                schema=node.schemaname,
                aliased=alias is not None,
                order=info.order or None if info is not None else None,
            )
        scope.rels.append(rel)
        return rel

    def _order(self, sort: Sequence[Any], scope: Scope, limit: bool) -> None:
        keys: list[tuple[AccessBuilder, SortKey]] = []
        complete = True
        for item in sort:
            col = self._target_column(item.node, scope)
            if col is None or col[2] is not scope:
                complete = False
                continue
            col[0].read[col[1]] = None
            nulls = {
                SortByNulls.SORTBY_NULLS_FIRST: True,
                SortByNulls.SORTBY_NULLS_LAST: False,
            }.get(item.sortby_nulls)
            descending = item.sortby_dir == SortByDir.SORTBY_DESC
            keys.append((col[0], SortKey(col[1], descending, nulls)))
        owners = {id(acc) for acc, _ in keys}
        # Reading in index order only replaces the sort when every key is on one table.
        if complete and len(owners) == 1:
            acc = keys[0][0]
            acc.order_by = [key for _, key in keys]
            acc.limit = limit

    # -- predicates ----------------------------------------------------------------------

    def _predicate(self, node: Any, scope: Scope) -> None:
        """One conjunct of a WHERE / ON / HAVING: record what an index could use."""
        if node is None:
            return
        if isinstance(node, ast.BoolExpr):
            if node.boolop == BoolExprType.AND_EXPR:
                for arg in node.args or ():
                    self._predicate(arg, scope)
                return
            if node.boolop == BoolExprType.OR_EXPR and self._or_as_in_list(node, scope):
                return
            args = node.args or ()
            if node.boolop == BoolExprType.NOT_EXPR and len(args) == 1:
                col = self._column(args[0], scope)
                if col is not None and col[2] is scope:
                    self._constant(col, f"NOT {quote_ident(col[1])}")
                    return
            self._expression(node, scope)
            return
        if isinstance(node, ast.ColumnRef):
            col = self._column(node, scope)
            if col is not None and col[2] is scope:
                self._constant(col, quote_ident(col[1]))
                return
        if isinstance(node, ast.NullTest):
            col = self._column(node.arg, scope)
            if col is not None and col[2] is scope:
                is_null = node.nulltesttype == NullTestType.IS_NULL
                test = "IS NULL" if is_null else "IS NOT NULL"
                self._constant(col, f"{quote_ident(col[1])} {test}", is_null)
                return
        if isinstance(node, ast.BooleanTest):
            col = self._column(node.arg, scope)
            if col is not None and col[2] is scope:
                test = {
                    BoolTestType.IS_TRUE: "IS TRUE",
                    BoolTestType.IS_NOT_TRUE: "IS NOT TRUE",
                    BoolTestType.IS_FALSE: "IS FALSE",
                    BoolTestType.IS_NOT_FALSE: "IS NOT FALSE",
                    BoolTestType.IS_UNKNOWN: "IS UNKNOWN",
                    BoolTestType.IS_NOT_UNKNOWN: "IS NOT UNKNOWN",
                }[cast(BoolTestType, node.booltesttype)]
                self._constant(col, f"{quote_ident(col[1])} {test}")
                return
        if isinstance(node, ast.A_Expr) and self._comparison(node, scope):
            return
        if (
            isinstance(node, ast.SubLink)
            and node.subLinkType == SubLinkType.ANY_SUBLINK
            and node.testexpr is not None
        ):
            inner = self.select(node.subselect, scope, scope.ctes)
            col = self._column(node.testexpr, scope)
            first = inner.targets[0].val if inner.targets else None
            target = self._column(first, inner) if first is not None else None
            if col is not None and col[2] is scope:
                col[0].join.append(col[1])
                col[0].read[col[1]] = None
            if target is not None and target[2] is inner:
                target[0].join.append(target[1])
            return
        self._expression(node, scope)

    def _comparison(self, node: Any, scope: Scope) -> bool:
        """Record an indexable comparison; False when it is not one (then only read)."""
        op = node.name[-1].sval if node.name else None
        kind = node.kind
        if kind == A_Expr_Kind.AEXPR_OP and op == "=" and isinstance(node.lexpr, ast.RowExpr):
            right = node.rexpr.args if isinstance(node.rexpr, ast.RowExpr) else None
            left = node.lexpr.args or ()
            if right is None or len(right) != len(left):
                return False
            for left_item, right_item in zip(left, right, strict=True):
                pair = ast.A_Expr(
                    kind=A_Expr_Kind.AEXPR_OP,
                    name=(ast.String(sval="="),),
                    lexpr=left_item,
                    rexpr=right_item,
                )
                if not self._comparison(pair, scope):
                    self._expression(left_item, scope)
                    self._expression(right_item, scope)
            return True
        if kind in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_NOT_DISTINCT) and (
            op == "=" or op in _RANGE_OPS
        ):
            return self._binary(node.lexpr, node.rexpr, op == "=", scope)
        if kind == A_Expr_Kind.AEXPR_IN and op == "=":
            col = self._column(node.lexpr, scope)
            values = node.rexpr if isinstance(node.rexpr, list | tuple) else (node.rexpr,)
            if col is None or col[2] is not scope or not self._is_value(values, scope):
                return False
            self._read(col)
            (col[0].equality if len(values) == 1 else col[0].in_list).append(col[1])
            return True
        if kind == A_Expr_Kind.AEXPR_OP_ANY and op == "=":
            col = self._column(node.lexpr, scope)
            if col is None or col[2] is not scope or not self._is_value(node.rexpr, scope):
                return False
            self._read(col)
            col[0].in_list.append(col[1])
            return True
        if kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_BETWEEN_SYM):
            col = self._column(node.lexpr, scope)
            if col is None or col[2] is not scope or not self._is_value(node.rexpr, scope):
                return False
            self._read(col)
            col[0].range.append(col[1])
            return True
        return False

    def _binary(self, lexpr: Any, rexpr: Any, is_eq: bool, scope: Scope) -> bool:
        lcol, rcol = self._column(lexpr, scope), self._column(rexpr, scope)
        llocal = lcol if lcol is not None and lcol[2] is scope else None
        rlocal = rcol if rcol is not None and rcol[2] is scope else None
        if llocal is not None and rlocal is not None:
            self._read(llocal)
            self._read(rlocal)
            if is_eq and llocal[0] is not rlocal[0]:
                llocal[0].join.append(llocal[1])
                rlocal[0].join.append(rlocal[1])
            return True  # (two columns of one row give no lookup)
        col = llocal or rlocal
        if col is None:
            return False
        other_node, other_col = (rexpr, rcol) if llocal is not None else (lexpr, lcol)
        self._read(col)
        if other_col is not None:
            # an outer query's column (a correlated subquery): known at each probe
            (col[0].join if is_eq else col[0].range).append(col[1])
            return True
        if is_eq and self._derived_column(other_node, scope):
            # joined with a subquery's, a CTE's or a VALUES list's column: a nested loop
            # can probe this table with each of its values
            col[0].join.append(col[1])
            return True
        self._expression(other_node, scope)
        if not self._is_value(other_node, scope):
            return True
        if is_eq:
            col[0].equality.append(col[1])
            literal = _literal(other_node)
            if literal is not None:
                self._constant(col, f"{quote_ident(col[1])} = {literal}")
        else:
            col[0].range.append(col[1])
        return True

    def _or_as_in_list(self, node: Any, scope: Scope) -> bool:
        """``a = $1 OR a = $2`` is ``a IN ($1, $2)``."""
        cols = set()
        for arg in node.args:
            if not (
                isinstance(arg, ast.A_Expr)
                and arg.kind == A_Expr_Kind.AEXPR_OP
                and arg.name is not None
                and arg.name[-1].sval == "="
            ):
                return False
            col = self._column(arg.lexpr, scope)
            if col is None or col[2] is not scope or not self._is_value(arg.rexpr, scope):
                return False
            cols.add((id(col[0]), col[1]))
        if len(cols) != 1:
            return False
        col = self._column(node.args[0].lexpr, scope)
        assert col is not None
        self._read(col)
        col[0].in_list.append(col[1])
        return True

    def _is_value(self, node: Any, scope: Scope) -> bool:
        """Whether an expression is known before this scope's rows are read (parameters,
        literals, outer columns, functions of those): a lookup key."""
        for item in walk_nodes(node):
            if isinstance(item, ast.SubLink):
                return False
            if isinstance(item, ast.ColumnRef):
                col = self._column(item, scope)
                if col is None or col[2] is scope:
                    return False
        return True

    def _constant(self, col: Column, sql: str, null_test: bool | None = None) -> None:
        self._read(col)
        col[0].constants.setdefault(sql, Constant(col[1], sql, null_test))

    def _read(self, col: Column) -> None:
        col[0].read[col[1]] = None

    def _expression(self, node: Any, scope: Scope) -> None:
        """Columns read by an expression; subqueries inside it get their own scope."""
        if node is None:
            return
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, list | tuple):
                stack.extend(item)
                continue
            if not isinstance(item, ast.Node):
                continue
            if isinstance(item, ast.SubLink):
                stack.append(item.testexpr)
                self.select(item.subselect, scope, scope.ctes)
                continue
            if isinstance(item, ast.SelectStmt):
                self.select(item, scope, scope.ctes)
                continue
            if isinstance(item, ast.ColumnRef):
                if item.fields and isinstance(item.fields[-1], ast.A_Star):
                    self._star(item, scope)
                    continue
                col = self._column(item, scope)
                if col is not None:
                    self._read(col)
                continue
            stack.extend(getattr(item, name) for name in item)

    def _star(self, node: Any, scope: Scope) -> None:
        qualifier = node.fields[-2] if len(node.fields) > 1 else None
        for rel in scope.rels:
            if isinstance(qualifier, ast.String) and rel.name != qualifier.sval:
                continue
            if rel.acc is not None:
                rel.acc.star = True
            for acc, column in (rel.mapping or {}).values():
                acc.read[column] = None


def _has_limit(stmt: Any) -> bool:
    count = stmt.limitCount
    if count is None or stmt.limitOption == LimitOption.LIMIT_OPTION_DEFAULT:
        return False
    return not (isinstance(count, ast.A_Const) and count.isnull)


def _literal(node: Any) -> str | None:
    """SQL text of a literal constant (not a parameter), for a partial index predicate."""
    inner = node.arg if isinstance(node, ast.TypeCast) else node
    if isinstance(inner, ast.A_Const) and not inner.isnull:
        return str(RawStream()(node))
    return None
