"""The kind index of the metrics answers what a comparison of the strings does."""

import numpy as np

from fleetsim.metrics.handmade import recorded_run
from fleetsim.metrics.kinds import KindIndex, event_mask, event_rows, indexed_kinds, leg_mask
from fleetsim.record import kind_in


def _run():
    kinds = ["plan", "ack", "arrive", "ack", "review", "plan", "los_start", "ack"]
    return recorded_run(duration_s=10.0,
                        events=[{"time_s": float(i), "kind": k} for i, k in enumerate(kinds)])


def test_rows_and_masks_equal_string_comparison_inside_and_outside_the_block():
    run = _run()
    queries = ["ack", ("plan", "review"), ("review", "plan", "ack"), "missing",
               ("missing", "arrive"), ()]
    outside = [(event_rows(run, q), event_mask(run, q)) for q in queries]
    with indexed_kinds(run):
        inside = [(event_rows(run, q), event_mask(run, q)) for q in queries]
    for q, (r0, m0), (r1, m1) in zip(queries, outside, inside, strict=True):
        want = kind_in(run.events["kind"], q)
        assert r0.tolist() == r1.tolist() == np.flatnonzero(want).tolist(), q
        assert m0.tolist() == m1.tolist() == want.tolist(), q
    assert event_rows(run, ("review", "plan", "ack")).tolist() == [0, 1, 3, 4, 5, 7]


def test_index_lives_only_inside_the_block_and_follows_a_replaced_column():
    run = _run()
    with indexed_kinds(run):
        with indexed_kinds(run):  # nested: the outer block's index is kept
            pass
        assert event_rows(run, "ack").tolist() == [1, 3, 7]
        run.events["kind"] = np.array(["ack"] * 8, dtype=object)  # a new column
        assert event_rows(run, "ack").tolist() == list(range(8))
    assert not run.derived
    run.events["kind"][0] = "plan"  # edited in place after the block
    assert event_rows(run, "ack").tolist() == list(range(1, 8))


def test_kind_index_of_strings_that_are_equal_but_not_the_same_objects():
    column = np.array(["".join(["a", "ck"]) for _ in range(3)] + ["plan"], dtype=object)
    index = KindIndex(column)
    assert index.rows("ack").tolist() == [0, 1, 2]
    assert index.mask(("plan",)).tolist() == [False, False, False, True]


def test_leg_masks_equal_string_comparison_inside_and_outside_the_block():
    legs = [{"vehicle": 0, "kind": k, "t0_s": float(i), "t1_s": float(i + 1),
             "p0": (0.0, 0.0, 0.0), "p1": (1.0, 0.0, 0.0)}
            for i, k in enumerate(["takeoff", "move", "docked", "move", "land"])]
    run = recorded_run(duration_s=10.0, legs=legs, footprint_radius_m=[5.0])
    outside = [leg_mask(run, q).tolist() for q in ("move", ("docked", "land"), "hold")]
    with indexed_kinds(run):
        inside = [leg_mask(run, q).tolist() for q in ("move", ("docked", "land"), "hold")]
        assert run.derived
    assert outside == inside == [[False, True, False, True, False],
                                 [False, False, True, False, True], [False] * 5]
    assert not run.derived


def test_kind_index_read_in_chunks_groups_the_same_rows(monkeypatch):
    import fleetsim.metrics.kinds as kinds

    rng = np.random.default_rng(2)
    column = np.array(rng.choice(["ack", "plan", "review", "arrive"], 50).tolist(), dtype=object)
    whole = KindIndex(column)
    monkeypatch.setattr(kinds, "_CHUNK_ROWS", 7)
    chunked = KindIndex(column)
    for q in ("ack", ("plan", "review"), ("arrive", "ack", "plan", "review"), "none"):
        want = np.flatnonzero(kind_in(column, q)).tolist()
        assert whole.rows(q).tolist() == chunked.rows(q).tolist() == want


def test_results_kept_within_a_block_only():
    from fleetsim.metrics.kinds import within_block

    run = _run()
    calls = []

    def compute(r):
        calls.append(1)
        return len(calls)

    assert within_block(run, "n", compute) == 1 and within_block(run, "n", compute) == 2
    with indexed_kinds(run):
        assert within_block(run, "n", compute) == 3
        assert within_block(run, "n", compute) == 3
    assert within_block(run, "n", compute) == 4
    assert not run.derived


def test_a_coded_column_is_grouped_by_its_own_codes():
    """The record holds kinds as one-byte codes: the index reads them without making
    strings, and answers as it does for the strings (categories not seen in the rows,
    and a category list with a repeated string, included)."""
    from fleetsim.record import CodedColumn

    kinds = ["plan", "ack", "arrive", "ack", "review", "plan", "los_start", "ack"]
    plain = np.array(kinds, dtype=object)
    coded = CodedColumn.encode(kinds, categories=("takeoff", "ack"))
    twice = CodedColumn(np.array([0, 1, 2, 1, 3], dtype=np.uint8), ("ack", "plan", "ack", "x"))
    for q in ["ack", ("plan", "review"), "takeoff", "missing", ("los_start", "arrive")]:
        assert KindIndex(coded).rows(q).tolist() == KindIndex(plain).rows(q).tolist(), q
        assert KindIndex(coded).mask(q).tolist() == kind_in(plain, q).tolist(), q
    assert KindIndex(twice).rows("ack").tolist() == [0, 2]
