"""A vehicle flying a route block waits on one ``BlockEnd`` timeout. Routes continued
meanwhile move the block's end; the timeout then moves itself instead of waking the
vehicle. The vehicle must be resumed once, at the block's real end, and in the place
among simultaneous events that a wake-up at the old end followed by a new timeout would
give it (events scheduled for the same instant before the old end come first, those
scheduled after it come later); an interrupted vehicle must not be resumed by it."""

from __future__ import annotations

import numpy as np
import simpy

from fleetsim.engine.movement import BlockEnd
from fleetsim.engine.tables import L_T1


class _Legs:
    def __init__(self) -> None:
        self.a = np.zeros((3, L_T1 + 1))


class _Engine:
    """What BlockEnd reads of the engine: the clock, the block's legs and their ends."""

    def __init__(self) -> None:
        self.env = simpy.Environment()
        self.legs = _Legs()
        self.blk_ids = [[0]]
        self.blk_t0 = [[0.0]]

    def continue_block(self, t1: float) -> None:
        """Append a leg to vehicle 0's block, ending at ``t1``."""
        li = len(self.blk_ids[0])
        self.legs.a[li, L_T1] = t1
        self.blk_t0[0].append(self.env.now)
        self.blk_ids[0].append(li)


def _at(env, t, log, name, delay):
    """At time ``t``, schedule a timeout ``delay`` later that logs ``name``."""
    yield env.timeout(t)
    yield env.timeout(delay)
    log.append((env.now, name))


def test_a_continued_block_wakes_its_vehicle_once_at_the_new_end_in_order():
    eng = _Engine()
    env = eng.env
    eng.legs.a[0, L_T1] = 10.0
    log, resumes = [], []

    def vehicle():
        yield BlockEnd(eng, 0, 10.0)
        resumes.append(env.now)
        log.append((env.now, "vehicle"))

    env.process(vehicle())
    env.process(_continue_at(env, eng, 4.0, 30.0))
    env.process(_continue_at(env, eng, 20.0, 45.0))  # continued again on the way
    # Due at 45: scheduled after the last continuation (20) but before the old end (30).
    env.process(_at(env, 25.0, log, "before", 20.0))
    env.process(_at(env, 35.0, log, "after", 10.0))  # due at 45, scheduled after 30
    env.run()
    assert resumes == [45.0]
    assert log == [(45.0, "before"), (45.0, "vehicle"), (45.0, "after")]


def _continue_at(env, eng, t, t1):
    yield env.timeout(t)
    eng.continue_block(t1)


def test_an_interrupted_vehicle_is_not_resumed_by_its_block_end():
    eng = _Engine()
    env = eng.env
    eng.legs.a[0, L_T1] = 10.0
    seen = []

    def vehicle():
        try:
            yield BlockEnd(eng, 0, 10.0)
            seen.append(("end", env.now))
        except simpy.Interrupt:
            seen.append(("interrupted", env.now))
            yield env.timeout(100.0)
            seen.append(("later", env.now))

    proc = env.process(vehicle())
    env.process(_continue_at(env, eng, 2.0, 30.0))

    def interrupt():
        yield env.timeout(5.0)
        proc.interrupt("plan")

    env.process(interrupt())
    env.run()
    assert seen == [("interrupted", 5.0), ("later", 105.0)]


def test_a_block_end_that_has_fired_is_freed_without_the_collector():
    """Ended (as planned, continued then ended, or after its vehicle was interrupted),
    a block end is freed as soon as nothing holds it: a day of a large fleet makes
    hundreds of thousands, and reference cycles would keep them until a collection."""
    import gc
    import weakref

    was = gc.isenabled()
    gc.disable()
    try:
        refs = []
        for case in ("plain", "continued", "interrupted"):
            eng = _Engine()
            env = eng.env
            eng.legs.a[0, L_T1] = 10.0

            def vehicle(eng=eng, env=env):
                end = BlockEnd(eng, 0, 10.0)
                refs.append(weakref.ref(end))
                try:
                    yield end
                except simpy.Interrupt:
                    yield env.timeout(100.0)

            proc = env.process(vehicle())
            if case != "plain":
                env.process(_continue_at(env, eng, 2.0, 30.0))
            if case == "interrupted":
                def interrupt(env=env, proc=proc):
                    yield env.timeout(5.0)
                    proc.interrupt("plan")
                env.process(interrupt())
            env.run()
            assert env.now == {"plain": 10.0, "continued": 30.0, "interrupted": 105.0}[case]
            del proc, vehicle
        assert [r() for r in refs] == [None, None, None]
    finally:
        if was:
            gc.enable()
