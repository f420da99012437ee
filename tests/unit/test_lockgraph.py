from dbtop.analysis.lockgraph import MAX_DEPTH, MAX_NODES, build_lock_forest
from dbtop.model import LockWait


def edges(*pairs: tuple[str, str]) -> list[LockWait]:
    return [LockWait(waiter=w, blocker=b, mode="ShareLock") for w, b in pairs]


def flatten(node, out=None):
    out = [] if out is None else out
    out.append((node.session_id, node.depth))
    for child in node.children:
        flatten(child, out)
    return out


def test_no_edges_is_empty():
    forest = build_lock_forest([])
    assert forest.roots == ()
    assert forest.max_depth == 0
    assert forest.cycles == ()


def test_three_session_chain_has_one_root_and_depth_two():
    # 30 waits for 20, 20 waits for 10: 10 is the root blocker.
    forest = build_lock_forest(edges(("30", "20"), ("20", "10")))
    assert [r.session_id for r in forest.roots] == ["10"]
    assert forest.root_ids == frozenset({"10"})
    assert flatten(forest.roots[0]) == [("10", 0), ("20", 1), ("30", 2)]
    assert forest.max_depth == 2
    assert forest.blocked_count["10"] == 2
    assert forest.roots[0].wait is None
    assert forest.roots[0].children[0].wait.blocker == "10"
    assert forest.blocker_ids == frozenset({"10", "20"})  # hard edges: 20 holds what 30 wants
    assert forest.waiter_ids == frozenset({"20", "30"})


def test_waiter_with_two_blockers_appears_under_both_roots():
    forest = build_lock_forest(edges(("3", "1"), ("3", "2")))
    assert sorted(r.session_id for r in forest.roots) == ["1", "2"]
    for root in forest.roots:
        assert [c.session_id for c in root.children] == ["3"]
        assert forest.blocked_count[root.session_id] == 1


def test_roots_ordered_by_how_many_they_block():
    forest = build_lock_forest(edges(("5", "4"), ("2", "1"), ("3", "1"), ("6", "3")))
    assert [r.session_id for r in forest.roots] == ["1", "4"]
    assert forest.blocked_count == {"1": 3, "4": 1}


def test_numeric_ids_sort_as_numbers_between_equal_roots():
    forest = build_lock_forest(edges(("100", "9"), ("101", "10")))
    assert [r.session_id for r in forest.roots] == ["9", "10"]


def test_cycle_without_root_is_reported_and_drawn():
    forest = build_lock_forest(edges(("1", "2"), ("2", "3"), ("3", "1")))
    assert forest.cycles == (("1", "2", "3"),)
    assert [r.session_id for r in forest.roots] == ["1"]
    drawn = flatten(forest.roots[0])
    assert [sid for sid, _ in drawn] == ["1", "3", "2"]
    assert all(node_in_cycle for node_in_cycle in _cycle_flags(forest.roots[0]))


def _cycle_flags(node):
    yield node.in_cycle
    for child in node.children:
        yield from _cycle_flags(child)


def test_cycle_below_a_true_root_is_not_drawn_twice():
    # 9 blocks 1; 1 and 2 wait for each other.
    forest = build_lock_forest(edges(("1", "9"), ("1", "2"), ("2", "1")))
    assert forest.cycles == (("1", "2"),)
    assert [r.session_id for r in forest.roots] == ["9"]
    assert flatten(forest.roots[0]) == [("9", 0), ("1", 1), ("2", 2)]


def test_self_loop_is_a_cycle():
    forest = build_lock_forest(edges(("7", "7")))
    assert forest.cycles == (("7",),)


def test_duplicate_edges_on_several_locks_count_once():
    forest = build_lock_forest(edges(("2", "1"), ("2", "1")))
    assert forest.node_count() == 2
    assert forest.blocked_count["1"] == 1


def test_very_long_chain_is_drawn_to_a_bound_and_counted_exactly():
    n = 3000
    forest = build_lock_forest(edges(*[(str(i + 1), str(i)) for i in range(n)]))
    assert forest.root_ids == frozenset({"0"})
    assert forest.blocked_count["0"] == n
    assert forest.truncated
    assert forest.max_depth == MAX_DEPTH


def test_huge_fan_out_is_bounded_but_counts_stay_exact():
    pairs = [(f"w{i}", f"b{j}") for i in range(200) for j in range(40)]
    forest = build_lock_forest(edges(*pairs))
    assert forest.truncated
    assert forest.node_count() <= MAX_NODES + 40
    assert all(count == 200 for count in forest.blocked_count.values())


# --- PostgreSQL's hot row: pg_blocking_pids() names the holder and every waiter ahead ---

import dataclasses  # noqa: E402
import io  # noqa: E402

import pytest  # noqa: E402
from rich.console import Console  # noqa: E402

from dbtop.model import Session, frozen  # noqa: E402
from tests.ui.recorded import load_snapshot  # noqa: E402


def hot_row(n: int) -> list[LockWait]:
    """Holder H=1; waiter Wk (id 10000+k) lists H (hard) and W1..W(k-1) (queue order)."""
    out = []
    for k in range(1, n + 1):
        waiter = str(10_000 + k)
        out.append(LockWait(waiter=waiter, blocker="1", mode="ExclusiveLock", held_mode="X"))
        out.extend(
            LockWait(
                waiter=waiter,
                blocker=str(10_000 + j),
                mode="ExclusiveLock",
                extra=frozen(queued_ahead=True),
            )
            for j in range(1, k)
        )
    return out


def lock_section(lock_waits: list[LockWait]) -> list[str]:
    from dbtop.cli.render import lock_tree

    ids = {e.waiter for e in lock_waits} | {e.blocker for e in lock_waits}
    snapshot = dataclasses.replace(
        load_snapshot(),
        sessions=tuple(Session(id=i, query="UPDATE t SET v = v + 1 WHERE id = 1") for i in ids),
        lock_waits=tuple(lock_waits),
    )
    console = Console(file=io.StringIO(), width=200)
    console.print(lock_tree(snapshot, build_lock_forest(lock_waits)))
    return console.file.getvalue().splitlines()


@pytest.mark.parametrize("n", [8, 24, 500])
def test_hot_row_each_waiter_appears_once_under_the_holder(n):
    forest = build_lock_forest(hot_row(n))
    assert [r.session_id for r in forest.roots] == ["1"]
    drawn = [sid for sid, _ in flatten(forest.roots[0])][1:]
    assert sorted(drawn) == sorted(str(10_000 + k) for k in range(1, n + 1))
    assert forest.node_count() == n + 1
    assert not forest.truncated
    assert forest.frees("1") == (n, n)
    # Queue place and the sessions ahead (soft edges) are kept on each waiter.
    last = forest.roots[0].children[-1]
    assert last.session_id == str(10_000 + n)
    assert last.queue_position == n
    assert len(last.queued_behind) == n - 1
    from dbtop.analysis.lockgraph import release_phrase

    assert release_phrase(forest, "1") == f"releases {n} waiting sessions, {n} directly"


@pytest.mark.parametrize("n", [8, 24, 500])
def test_hot_row_cli_lock_section_grows_linearly(n):
    lines = lock_section(hot_row(n))
    assert len(lines) <= n + 3
    for k in range(1, n + 1):
        assert sum(str(10_000 + k) in line.split() for line in lines) == 1


def test_frees_counts_direct_and_all_for_a_non_root():
    forest = build_lock_forest(edges(("b", "a"), ("c", "b"), ("d", "b"), ("e", "d")))
    assert forest.frees("a") == (1, 4)
    assert forest.frees("b") == (2, 3)
    assert forest.frees("e") == (0, 0)
    from dbtop.analysis.lockgraph import release_phrase

    assert release_phrase(forest, "e") is None


def test_a_waiter_with_only_queue_edges_is_still_drawn_once():
    queue = frozen(queued_ahead=True)
    forest = build_lock_forest(
        [
            LockWait(waiter="2", blocker="1"),
            LockWait(waiter="3", blocker="2", extra=queue),
            LockWait(waiter="4", blocker="2", extra=queue),
            LockWait(waiter="4", blocker="3", extra=queue),
        ]
    )
    drawn = [sid for sid, _ in flatten(forest.roots[0])]
    assert sorted(drawn) == ["1", "2", "3", "4"]
    assert forest.frees("1") == (1, 3)


def test_json_keeps_every_hot_row_edge_and_says_which_are_queue_order():
    from dbtop.cli.snapshot import snapshot_document

    waits = hot_row(8)
    snapshot = dataclasses.replace(load_snapshot(), lock_waits=tuple(waits))
    doc = snapshot_document(snapshot)
    assert len(doc["lock_waits"]) == len(waits) == 8 + 28
    assert sum(e["hard"] for e in doc["lock_waits"]) == 8
    assert all(e["hard"] != bool(e["extra"].get("queued_ahead")) for e in doc["lock_waits"])
    assert doc["lock_roots"] == ["1"]
    assert doc["lock_frees"] == {"1": {"direct": 8, "total": 8}}


def test_cli_kill_prompt_names_what_the_root_frees(monkeypatch, capsys):
    import argparse

    from dbtop.cli import kill

    snapshot = dataclasses.replace(
        load_snapshot(),
        sessions=(Session(id="1", state="idle in transaction"),),
        lock_waits=tuple(hot_row(24)),
    )
    asked: list[str] = []

    class Engine:
        include_idle = False

        async def snapshot(self):
            return snapshot

        async def kill(self, session_id, mode, expected=None):
            raise AssertionError("not confirmed: must not be sent")

    class Connected:
        async def __aenter__(self):
            return Engine()

        async def __aexit__(self, *exc):
            return False

    monkeypatch.setattr(kill, "connected", lambda args: Connected())
    monkeypatch.setattr(kill, "confirm", lambda prompt: asked.append(prompt) or False)
    args = argparse.Namespace(id="1", terminate=True, yes=False, read_only=False, url="x")
    with pytest.raises(kill.RefusedError):
        kill.run_async(lambda: kill._kill(args))
    assert asked and asked[0].endswith(": releases 24 waiting sessions, 24 directly?")


def test_a_waiter_queued_ahead_in_a_hot_row_does_not_block_others():
    """Only a hard edge makes a session "blocking": the waiters ahead in a hot-row queue
    are named by pg_blocking_pids, but ending one frees nobody behind it."""
    from dbtop.analysis import sessions

    forest = build_lock_forest(hot_row(8))
    middle = str(10_004)
    assert forest.blocker_ids == frozenset({"1"})
    assert middle in forest.queued_ahead_ids
    assert middle in forest.waiter_ids
    # Not waiting-flagged by its own row (an engine that names blockers but no wait state):
    # still not "b".
    quiet = Session(id=middle, is_idle=True)
    assert not sessions.blocks_others(quiet, forest)
    assert sessions.session_flag(quiet, forest, 60.0) != sessions.BLOCKER
    assert sessions.hidden_when_idle_hidden(quiet, forest)
    holder = Session(id="1", is_idle=True, in_transaction=True)
    assert sessions.session_flag(holder, forest, 60.0) == sessions.ROOT_BLOCKER
