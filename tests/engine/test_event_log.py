"""The event log: rows appended one by one and in blocks, sealed chunk by chunk into
typed columns, come out as the record's events table, sorted by time then by the order
they were recorded, with the events of dropped legs left out and leg ids renumbered."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim.engine import tables
from fleetsim.engine.tables import EVENT_WIDTH, EventLog
from fleetsim.record import EVENT_COLUMNS, EVENT_KINDS, LEG_COLUMNS, table_digest


def _reference(rows: np.ndarray, details: list[str], keep, leg_id) -> dict:
    """The table as a float64 matrix sorted whole, then filtered (the plain way)."""
    arr = rows[np.argsort(rows[:, 0], kind="stable")]
    leg = arr[:, 3].astype(np.int64)
    ok = keep(arr[:, 0], leg)
    arr, leg = arr[ok], leg[ok]
    code = arr[:, 1].astype(np.int64)
    return {
        "time_s": arr[:, 0].copy(), "kind": np.asarray(EVENT_KINDS, dtype=object)[code],
        "vehicle": arr[:, 2].astype(np.int32),
        "leg": np.where(leg >= 0, leg_id[np.maximum(leg, 0)], -1),
        "target": arr[:, 4].astype(np.int32), "zone": arr[:, 5].astype(np.int32),
        "x_m": arr[:, 6].copy(), "y_m": arr[:, 7].copy(), "z_m": arr[:, 8].copy(),
        "value": arr[:, 9].copy(), "operator": arr[:, 10].astype(np.int32),
        "detail": np.asarray([""] + details, dtype=object)[arr[:, 11].astype(np.int64) + 1],
    }


def _random_rows(rng, m: int, n_legs: int, details: int) -> np.ndarray:
    rows = np.empty((m, EVENT_WIDTH))
    rows[:, 0] = rng.integers(0, 50, m) * 0.5  # many ties
    rows[:, 1] = rng.integers(0, len(EVENT_KINDS), m)
    rows[:, 2] = rng.integers(-1, 30, m)
    rows[:, 3] = rng.integers(-1, n_legs, m)
    rows[:, 4] = rng.integers(-1, 5, m)
    rows[:, 5] = rng.integers(-1, 3, m)
    rows[:, 6:10] = rng.normal(size=(m, 4)) * 1e4
    rows[rng.random(m) < 0.3, 6:9] = np.nan
    rows[:, 10] = rng.integers(-1, 4, m)
    rows[:, 11] = rng.integers(-1, details, m)
    return rows


@pytest.mark.parametrize("chunk", [4, 7, 1 << 16])
def test_log_table_equals_the_plain_sorted_table(monkeypatch, chunk):
    monkeypatch.setattr(tables, "EVENT_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    n_legs = 12
    rows = _random_rows(rng, 203, n_legs, 3)
    log = EventLog()
    names = ["detail a", "detail b", "detail c"]
    assert [log.detail_code(t) for t in names] == [0, 1, 2]
    i = 0
    for size in (1, 1, 9, 1, 40, 1, 1, 3, 100, 1):  # single rows and blocks, across chunks
        if size == 1:
            assert log.append(rows[i]) == i
        else:
            assert log.extend(rows[i:i + size]) == i
        i += size
        assert log.n == i
    log.extend(rows[i:])
    assert len(log) == len(rows)
    # rows() reads any rows back as they were appended, sealed or not
    pick = rng.permutation(len(rows))[:50]
    np.testing.assert_array_equal(log.rows(pick), rows[pick])

    t1 = rng.integers(0, 60, n_legs) * 0.5
    leg_keep = rng.random(n_legs) < 0.7
    leg_id = np.cumsum(leg_keep) - 1

    def keep(time, leg):
        ok = np.ones(len(leg), dtype=bool)
        tied = leg >= 0
        ok[tied] = leg_keep[leg[tied]] & (time[tied] <= t1[leg[tied]])
        return ok

    got = log.columns(keep=keep, leg_id=leg_id)
    want = _reference(rows, names, keep, leg_id)
    assert list(got) == list(EVENT_COLUMNS)
    for name, dtype in EVENT_COLUMNS.items():
        assert got[name].dtype == np.dtype(dtype), name
    assert table_digest(got) == table_digest(want)
    assert 0 < len(got["time_s"]) < len(rows)
    assert np.all(np.diff(got["time_s"]) >= 0)
    assert log.n == 0  # the record was taken out of the log


def test_an_empty_log_is_an_empty_table():
    got = EventLog().columns()
    assert {k: (len(v), v.dtype) for k, v in got.items()} == {
        k: (0, np.dtype(dt)) for k, dt in EVENT_COLUMNS.items()}


def test_event_add_writes_one_row_with_codes():
    log = EventLog()
    log.add(2.5, "detection", 3, leg=7, target=4, x=1.0, y=2.0, z=3.0, value=9.5)
    log.add(1.0, "work_start", 2, operator=1, detail="takeoff")
    t = log.columns()
    assert t["kind"].tolist() == ["work_start", "detection"]
    assert t["time_s"].tolist() == [1.0, 2.5]
    assert t["leg"].tolist() == [-1, 7]
    assert t["operator"].tolist() == [1, -1]
    assert t["detail"].tolist() == ["takeoff", ""]
    assert t["value"][1] == 9.5 and np.isnan(t["value"][0])


def _leg_store(n: int, seed: int = 3) -> tables.LegStore:
    rng = np.random.default_rng(seed)
    store = tables.LegStore()
    for i in range(n):  # one row at a time, so the matrix grows many times
        row = rng.normal(size=tables.LEG_WIDTH)
        row[tables.L_VEHICLE] = i % 7
        row[tables.L_KIND] = i % 12
        row[tables.L_SENSING] = i % 2
        store.append(row)
    return store


def test_leg_matrix_grows_in_place_keeping_every_row():
    store = _leg_store(10000)
    ref = _leg_store(10000).a[:10000].copy()
    assert len(store.a) >= 10000
    np.testing.assert_array_equal(store.a[:10000], ref)
    # A caller holding a view of the matrix: it grows into a copy; the view is intact.
    view = store.a[:5]
    kept = view.copy()
    store.extend(np.zeros((len(store.a), tables.LEG_WIDTH)))
    np.testing.assert_array_equal(view, kept)
    np.testing.assert_array_equal(store.a[:10000], ref)


@pytest.mark.parametrize("chunk", [1, 999, 1 << 18])
@pytest.mark.parametrize("drop", [False, True])
def test_leg_columns_taken_from_the_end_equal_the_gathered_ones(chunk, drop):
    n = 5000
    keep = None
    if drop:
        keep = np.random.default_rng(1).random(n) < 0.8
    want = _leg_store(n).columns(rows=None if keep is None else np.flatnonzero(keep))
    want.pop("kind_code")
    store = _leg_store(n)
    got = store.take_columns(keep, chunk=chunk)
    assert len(store) == 0
    assert list(got) == list(want)
    assert table_digest(got) == table_digest(want)
    assert got["leg"].tolist() == list(range(len(want["leg"])))


def test_leg_columns_taken_from_an_empty_store_are_empty_columns():
    got = tables.LegStore().take_columns()
    assert all(len(c) == 0 for c in got.values())
    assert list(got) == list(LEG_COLUMNS)


def test_mapped_columns_grow_keeping_their_rows():
    """A sealed column grows in its own map (in place where the system can); one that
    something else still views is copied instead, the view left as it was."""
    cols = [tables.mapped_empty(5, np.int32), tables.mapped_empty(3, np.float64)]
    cols[0][:] = [7, -1, 3, 0, 9]
    cols[1][:] = [0.5, np.nan, -2.0]
    tables.mapped_grown(cols, 0, 4, 100_000)
    assert cols[0].dtype == np.int32 and len(cols[0]) == 100_000
    assert cols[0][:4].tolist() == [7, -1, 3, 0]
    cols[0][99_999] = 11  # the new rows are there to write
    assert cols[0][99_999] == 11
    held = cols[1][:2]
    tables.mapped_grown(cols, 1, 3, 10)
    assert len(cols[1]) == 10 and cols[1][0] == 0.5 and np.isnan(cols[1][1])
    assert cols[1][2] == -2.0
    cols[1][0] = 4.0
    assert held[0] == 0.5  # a copy: the view still sees the old map


@pytest.mark.parametrize("distinct", [1, 3, 50, 10**9])
def test_time_order_is_the_stable_sort(distinct):
    """The events' time order (an unstable sort and a rank-and-index key) is the stable
    argsort: equal times, many or none, stay in the order they were recorded; NaNs, if
    any, last in that order too."""
    rng = np.random.default_rng(distinct)
    for n in (0, 1, 2, 7, 20_000):
        t = rng.integers(0, distinct, n) * 0.25
        assert np.array_equal(tables.time_order(t), np.argsort(t, kind="stable"))
    t = rng.integers(0, distinct, 1000) * 0.25
    t[rng.random(1000) < 0.1] = np.nan
    assert np.array_equal(tables.time_order(t), np.argsort(t, kind="stable"))
