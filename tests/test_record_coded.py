"""Coded string columns (the record's ``kind`` and ``detail``): they read as the arrays
of strings they stand for, and a run directory's files hold the same strings, byte for
byte, whether a table's column is coded or an array of strings."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim import rundir
from fleetsim.record import (
    EVENT_COLUMNS,
    EVENT_KINDS,
    CodedColumn,
    as_strings,
    kind_in,
    table_digest,
)

CATS = ("ground", "takeoff", "move", "land")


def coded() -> CodedColumn:
    return CodedColumn(np.array([2, 0, 2, 1, 3, 2], dtype=np.uint8), CATS)


STRINGS = ["move", "ground", "move", "takeoff", "land", "move"]


def test_a_coded_column_reads_as_its_strings():
    col = coded()
    assert len(col) == 6 and col.shape == (6,) and col.dtype == np.dtype(object)
    assert col.tolist() == STRINGS and list(col) == STRINGS
    assert col[3] == "takeoff" and col[-1] == "move" and col[np.int64(1)] == "ground"
    np.testing.assert_array_equal(np.asarray(col), np.array(STRINGS, dtype=object))
    assert np.asarray(col).dtype == object
    assert col[1:3].tolist() == ["ground", "move"]
    assert col[np.array([4, 0])].tolist() == ["land", "move"]
    assert col[np.array([True, False, False, True, False, False])].tolist() == ["move", "takeoff"]
    assert col.nbytes == 6  # one byte a row
    assert col.copy().tolist() == STRINGS
    assert sorted(set(col)) == ["ground", "land", "move", "takeoff"]
    assert np.unique(col).tolist() == ["ground", "land", "move", "takeoff"]


def test_comparisons_match_those_of_the_array_of_strings():
    col, ref = coded(), np.array(STRINGS, dtype=object)
    for s in ("move", "land", "charge", ""):
        np.testing.assert_array_equal(col == s, ref == s)
        np.testing.assert_array_equal(col != s, ref != s)
        np.testing.assert_array_equal(s == col, ref == s)  # the reflected comparison
        assert (col == s).dtype == bool
    np.testing.assert_array_equal(col == coded(), np.ones(6, dtype=bool))
    np.testing.assert_array_equal(col == ref, np.ones(6, dtype=bool))
    other = CodedColumn.encode(["move"] * 6)  # other categories: compared as strings
    np.testing.assert_array_equal(col == other, ref == "move")
    np.testing.assert_array_equal(col != other, ref != "move")
    for kinds in ("move", ("move", "land"), ["charge"], ()):
        np.testing.assert_array_equal(kind_in(col, kinds), kind_in(ref, kinds))
        np.testing.assert_array_equal(kind_in(col, kinds), np.isin(ref, list(
            (kinds,) if isinstance(kinds, str) else kinds)))
    np.testing.assert_array_equal(np.isin(col, ["land", "ground"]), np.isin(ref, ["land", "ground"]))


def test_encode_numbers_given_categories_first_then_strings_as_they_appear():
    col = CodedColumn.encode(["b", "a", "b", "c"], categories=("c", "z"))
    assert col.categories == ("c", "z", "b", "a")
    assert col.codes.tolist() == [2, 3, 2, 0] and col.codes.dtype == np.uint8
    assert col.tolist() == ["b", "a", "b", "c"]
    assert CodedColumn.encode([]).tolist() == []
    assert CodedColumn.code_dtype(256) is np.uint8
    assert CodedColumn.code_dtype(257) is np.uint16
    assert CodedColumn.code_dtype(70000) is np.uint32


def test_as_strings_keeps_a_coded_column_and_makes_arrays_of_the_rest():
    col = coded()
    assert as_strings(col) is col
    out = as_strings(["a", "b"])
    assert isinstance(out, np.ndarray) and out.dtype == object and out.tolist() == ["a", "b"]


def test_digests_of_a_coded_and_a_string_table_are_equal():
    assert table_digest({"kind": coded()}) == table_digest(
        {"kind": np.array(STRINGS, dtype=object)})
    assert table_digest({"kind": coded()}) != table_digest(
        {"kind": np.array(STRINGS[::-1], dtype=object)})


def _events(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    table = {name: np.zeros(n, dtype=dt) for name, dt in EVENT_COLUMNS.items()}
    table["time_s"] = np.sort(rng.uniform(0, 100, n))
    # Codes out of the categories' order, some categories absent, "" present.
    table["kind"] = np.asarray(EVENT_KINDS, dtype=object)[rng.integers(3, 12, n)]
    table["detail"] = np.asarray(["", "takeoff", "charge", "carrier"],
                                 dtype=object)[rng.integers(0, 4, n)]
    table["detail"][: min(n, 5)] = "charge"  # the first string to appear is not ""
    return table


@pytest.mark.parametrize("rows", [None, 64])
@pytest.mark.parametrize("n", [0, 1, 1000])
def test_a_coded_table_writes_the_same_bytes_and_reads_back_coded(tmp_path, monkeypatch,
                                                                  rows, n):
    if rows is not None:
        monkeypatch.setattr(rundir, "WRITE_ROWS", rows)
    plain = _events(n, n)
    dense = dict(plain)
    dense["kind"] = CodedColumn.encode(plain["kind"], EVENT_KINDS)
    dense["detail"] = CodedColumn.encode(plain["detail"], [""])
    a, b = tmp_path / "plain.parquet", tmp_path / "coded.parquet"
    rundir.write_table(a, plain, EVENT_COLUMNS)
    rundir.write_table(b, dense, EVENT_COLUMNS)
    assert a.read_bytes() == b.read_bytes()
    back = rundir.read_table(b, EVENT_COLUMNS, coded=("kind", "detail"))
    assert isinstance(back["kind"], CodedColumn) and isinstance(back["detail"], CodedColumn)
    assert not isinstance(rundir.read_table(b, EVENT_COLUMNS)["kind"], CodedColumn)
    assert table_digest(back) == table_digest(plain)
    assert back["kind"].tolist() == plain["kind"].tolist()
    c = tmp_path / "again.parquet"
    rundir.write_table(c, back, EVENT_COLUMNS)
    assert c.read_bytes() == a.read_bytes()
