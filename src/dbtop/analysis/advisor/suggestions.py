"""Chosen candidates into ``model.Suggestion``: the one builder every engine uses.

The builder does what is the same everywhere: the statements a choice helps
(``QueryShare`` with their costs before and after), the share of the workload's time, the
sums, the index name (``index_name``: one rule, each engine giving its prefix, suffix and
length limit) and the common ``extra`` fields. The engine passes a ``Dialect``: how its DDL
is written, the reason in its own words (the evidence it gathered) and its extra fields.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dbtop.analysis.advisor.candidates import Candidate
from dbtop.analysis.advisor.replacement import Replacement, replacement_of
from dbtop.analysis.advisor.selection import Choice
from dbtop.analysis.advisor.workload import ExistingIndex, Workload
from dbtop.model import QueryShare, Suggestion, frozen


@dataclass(frozen=True, slots=True)
class IndexNaming:
    """How an engine names the indexes it suggests: ``{prefix}table_col1_col2{suffix}``
    (``_partial`` before the suffix for a partial index), at most ``max_bytes`` long."""

    prefix: str = ""
    suffix: str = ""
    max_bytes: int = 63


def _cut(text: str, max_bytes: int) -> str:
    return text.encode()[:max_bytes].decode(errors="ignore")


def index_name(cand: Candidate, taken: set[str], naming: IndexNaming) -> str:
    """A name for the candidate unique among ``taken`` (to which it is added).

    Too long, the base is cut and an 8-digit hash of the full name keeps it distinct; a
    name already taken gets 2, 3 … appended."""
    base = naming.prefix + "_".join((cand.table.name, *cand.columns))
    if cand.where:
        base += "_partial"
    name = base + naming.suffix
    if len(name.encode()) > naming.max_bytes:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        keep = naming.max_bytes - len(naming.suffix) - len(digest) - 1
        name = f"{_cut(base, keep)}_{digest}{naming.suffix}"
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = _cut(name, naming.max_bytes - len(str(n))) + str(n)
    taken.add(candidate)
    return candidate


@dataclass(frozen=True, slots=True)
class Draft:
    """A choice with its figures, before the engine words it."""

    choice: Choice
    #: the index's name (None where the engine lets the server name it)
    name: str | None
    queries: tuple[QueryShare, ...]
    #: the share of the workload's time of the statements it helps
    share: float
    cost_before: float | None
    cost_after: float | None

    @property
    def candidate(self) -> Candidate:
        return self.choice.candidate

    @property
    def origin(self) -> str:
        """What in the statements asks for this index (the candidate's origins)."""
        return "; ".join(self.candidate.origin)


class Dialect(Protocol):
    """What an engine says of a suggestion in its own terms."""

    @property
    def naming(self) -> IndexNaming | None:
        """How the engine names indexes; None: the server names them (no name in the DDL)."""
        ...

    def statement(self, cand: Candidate, name: str | None) -> str:
        """The DDL creating the index."""
        ...

    def verified(self, cand: Candidate) -> bool:
        """Whether the planner confirmed the gain (hypothetical indexes)."""
        ...

    def reason(self, draft: Draft) -> str:
        """Why, with the evidence the engine gathered."""
        ...

    def extra(self, draft: Draft) -> Mapping[str, Any]:
        """Engine-specific ``extra`` fields (after ``name``, before ``benefit``)."""
        ...

    def drop(self, index: ExistingIndex, cand: Candidate) -> str:
        """The DDL dropping an existing index the suggestion replaces."""
        ...


def number(value: float | None) -> float | None:
    """A cost rounded for display, None when unknown (None or NaN)."""
    if value is None or value != value:
        return None
    return round(value, 2)


def total(values: Iterable[float | None]) -> float | None:
    """The sum of the known costs, None when none is known."""
    known = [v for v in values if v is not None]
    return round(sum(known), 2) if known else None


def draft(choice: Choice, workload: Workload, name: str | None) -> Draft:
    shares = []
    for effect in choice.effects:
        query = workload.query(effect.query_id)
        shares.append(
            QueryShare(
                query=query.text,
                share=effect.share,
                calls=query.calls,
                cost_before=number(effect.cost_before),
                cost_after=number(effect.cost_after),
                id=query.id,
            )
        )
    return Draft(
        choice=choice,
        name=name,
        queries=tuple(shares),
        share=sum(q.share for q in shares),
        cost_before=total(q.cost_before for q in shares),
        cost_after=total(q.cost_after for q in shares),
    )


def build_suggestions(
    workload: Workload,
    chosen: Sequence[Choice],
    dialect: Dialect,
    sizes: Mapping[Candidate, int] | None = None,
    replaces: Mapping[Candidate, Replacement] | None = None,
) -> list[Suggestion]:
    """One ``Suggestion`` per chosen candidate, in the order given; names avoid the
    existing indexes of the workload's tables."""
    taken = {index.name for table in workload.tables.values() for index in table.indexes}
    result = []
    for choice in chosen:
        cand = choice.candidate
        naming = dialect.naming
        name = index_name(cand, taken, naming) if naming is not None else None
        d = draft(choice, workload, name)
        extra: dict[str, Any] = {} if name is None else {"name": name}
        extra.update(dialect.extra(d))
        extra.update(benefit=round(choice.benefit, 6), workload_share=round(d.share, 6))
        reason = dialect.reason(d)
        statement = dialect.statement(cand, name)
        if replaces is not None and cand in replaces:
            replacing = replaces[cand]
        else:
            replacing = replacement_of(cand, workload.tables.get(cand.table))
        old = replacing.indexes
        if old:
            names = [index.name for index in old]
            statement += "".join("\n" + dialect.drop(index, cand) for index in old)
            reason += (
                f". It replaces {' and '.join(names)}: "
                + ("each is a left prefix of it" if len(old) > 1 else "a left prefix of it")
                + ", so it serves every statement they serve"
                + (f" ({replacing.checked})" if replacing.checked else "")
                + "; drop "
                + ("them" if len(old) > 1 else "it")
                + " once the new index is built"
            )
            extra.update(replaces=names)
        for index, why in replacing.kept:
            reason += f". {index.name} is a left prefix of it but is kept: {why}"
        if choice.write_note:
            reason += ". " + choice.write_note
            extra.update(write_share=round(choice.write_share, 6))
        result.append(
            Suggestion(
                table=cand.table.name,
                schema=cand.table.schema,
                columns=cand.columns,
                include=cand.include,
                where=" AND ".join(cand.where) or None,
                statement=statement,
                verified=dialect.verified(cand),
                reason=reason,
                cost_before=d.cost_before,
                cost_after=d.cost_after,
                size_bytes=(sizes or {}).get(cand),
                queries=d.queries,
                extra=frozen(extra),
            )
        )
    return result
