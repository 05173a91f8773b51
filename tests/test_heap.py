"""The C library's heap during a run: freed arrays kept for the next allocations
(:func:`fleetsim.record.keep_heap`), given back at the end (:func:`trim_heap`)."""

import os

import numpy as np
import pytest

from fleetsim.record import keep_heap, trim_heap


def _resident_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_freed_arrays_stay_for_the_next_ones_until_trimmed():
    if not keep_heap():
        pytest.skip("not glibc: nothing to set")
    trim_heap()
    base = _resident_mib()
    # 24 MiB, below the 32 MiB threshold: from the heap, not a map of its own. With
    # glibc's defaults it would be a map (the threshold starts at 128 KiB) and go back
    # to the system when freed.
    a = np.ones(3 << 20)
    held = _resident_mib()
    assert held - base > 20
    del a
    kept = _resident_mib()
    assert kept - base > 20  # freed, still resident: ready for the next array
    b = np.ones(3 << 20)  # the same pages again: nothing new faulted in
    assert _resident_mib() - kept < 4
    del b
    trim_heap()
    assert _resident_mib() - base < 4  # given back


def test_keep_heap_sets_once():
    first = keep_heap()
    assert keep_heap() is first  # cached: the process's setting is made once
