"""The replay of a run with wind, drifting and moving targets and a fixed wing's loiter
orbit: what the bundle holds (and that a bundle without them is unchanged), and what
the viewer shows in a real browser — the wind arrow turning when the wind changes,
each target where its velocity puts it with its track since time 0, the datum, and
the orbit as a circle through the places the chords' ends are, not the chords."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from needs import require
from replay_case import CHUNK_S

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.policy import GoTo, Hold, Plan, Policy, Route
from fleetsim.replay import write_replay_into
from fleetsim.rundir import write_run
from fleetsim.scenario import load_scenario_text

V, BANK = 20.0, 30.0
R = V * V / (9.80665 * math.tan(math.radians(BANK)))
ORBIT = (3000.0, 3000.0)  # where the wing starts its orbit (the centre is R east of it)

SCENARIO = """
schema_version: 1
name: viewer_realism
description: wind, drifting targets and a fixed wing's loiter, for the viewer tests
run: {duration_s: 1200, seed: 3}
world:
  terrain: {source: flat, size_m: [6000, 6000], spacing_m: 100}
  wind: {speed_mps: 6, from_deg: 250, changes: [{t_s: 600, speed_mps: 9, from_deg: 300}]}
  sites: [{id: home, kind: base, position: [500, 3000], pads: 3}]
fleet:
  types:
    - id: wing
      kind: fixed_wing
      bases: {home: 1}
      cruise_speed_mps: 20
      climb_rate_mps: 4
      cruise_altitude_agl_m: 100
      battery_wh: 100000
      hover_power_w: 170
      cruise_power_w: 150
      recharge_time_s: 100
      bank_angle_deg: 30
      sensor: {footprint_radius_m: 50}
    - id: quad
      kind: multirotor
      bases: {home: 2}
      cruise_speed_mps: 12
      climb_rate_mps: 4
      cruise_altitude_agl_m: 60
      battery_wh: 100000
      hover_power_w: 220
      cruise_power_w: 200
      recharge_time_s: 100
      sensor: {footprint_radius_m: 60}
missions:
  - id: sea
    kind: search
    area: {rect: [1500, 1500, 5500, 4500]}
    random_targets: 6
    targets: [{id: boat, position: [2000, 4000], velocity_mps: [1.5, -0.5]}]
    drift: {current_mps: [0.5, 0.2], leeway: 0.03, random_mps: 0.05}
policy: {name: scripted}
outputs: {metrics_cell_m: 100}
"""


class Scripted(Policy):
    """The wing flies to ORBIT and loiters 900 s; the quads sweep two lines."""

    name = "scripted"

    def decide(self, now_s, fleet, requests):
        out = []
        for r in requests:
            if r.reason != "start":
                continue
            if r.vehicle == 0:
                out.append(Plan(0, [GoTo(*ORBIT), Hold(900.0)]))
            else:
                y = 2000.0 + 1500.0 * (r.vehicle - 1)
                out.append(Plan(r.vehicle, [Route(np.array([[1500.0, y], [5500.0, y]]))]))
        return out


@pytest.fixture(scope="module")
def realism_run():
    return Simulation(load_scenario_text(SCENARIO, filename="viewer_realism.yaml"),
                      policy=Scripted()).run()


@pytest.fixture(scope="module")
def realism_dir(realism_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("viz") / "viewer_realism"
    write_run(out, realism_run, compute_metrics(realism_run), extra_writers=[
        lambda d: write_replay_into(d / "replay", realism_run, chunk_s=CHUNK_S)])
    return out


def test_the_bundle_holds_the_wind_the_target_motion_and_the_datum(realism_dir, realism_run):
    manifest = json.loads((realism_dir / "replay" / "manifest.json").read_text())
    wind = manifest["layers"]["wind"]
    assert [(p["t_s"], p["speed_mps"], p["from_deg"]) for p in wind["periods"]] == [
        (0.0, 6.0, 250.0), (600.0, 9.0, 300.0)]
    # From 250 degrees (WSW) it blows towards 70 degrees: east-north-east.
    p0 = wind["periods"][0]
    assert (p0["vx_mps"], p0["vy_mps"]) == pytest.approx(
        (6 * math.sin(math.radians(70)), 6 * math.cos(math.radians(70))), abs=1e-4)
    tg = json.loads((realism_dir / "replay" / "layers" / "targets.json").read_text())
    w = realism_run.world
    np.testing.assert_allclose(np.column_stack([tg["vx_mps"], tg["vy_mps"]]),
                               w.target_velocity, atol=1e-4)
    k = tg["ids"].index("boat")
    assert (tg["vx_mps"][k], tg["vy_mps"][k]) == (1.5, -0.5)
    # The datum: the area's centre, drifting with the current and 3 % of the wind.
    (d,) = tg["datums"]
    assert (d["id"], d["x_m"], d["y_m"]) == ("sea", 3500.0, 3000.0)
    assert (d["vx_mps"], d["vy_mps"]) == pytest.approx(
        (0.5 + 0.03 * p0["vx_mps"], 0.2 + 0.03 * p0["vy_mps"]), abs=1e-4)


def test_a_bundle_without_wind_or_motion_has_none_of_it(bundle):
    # The shared small run (tests/viz/replay_case.py): no wind, targets that stay put.
    assert "wind" not in bundle.manifest["layers"]
    targets = json.loads((bundle.root / "layers" / "targets.json").read_text())
    assert targets["count"] > 0 and not {"vx_mps", "vy_mps", "datums"} & set(targets)


# ---------------------------------------------------------------- in the browser

require("pytest_playwright", "the browser tests need pytest-playwright (pip install -e '.[test]')")
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")


@pytest.fixture(scope="module")
def realism_server(realism_dir):
    from fleetsim.replay.server import ReplayServer

    with ReplayServer(realism_dir / "replay", "127.0.0.1", 0).start() as srv:
        yield srv


@pytest.fixture()
def realism_page(page, realism_server):
    from test_viewer_browser import open_viewer

    problems = open_viewer(page, realism_server.url)
    yield page
    assert problems == []


def _seek(page, t: float) -> None:
    from test_viewer_browser import settle

    page.evaluate("(t) => window.viewer.seek(t)", t)
    settle(page)


def _overlay_alpha(page, points):
    from test_viewer_browser import pixels

    return [px[3] for px in pixels(page, "overlay", points)]


def test_the_viewer_shows_the_wind_arrow_and_turns_it_when_the_wind_changes(realism_page):
    page = realism_page
    _seek(page, 300.0)
    w = page.evaluate("() => window.viewer.wind")
    assert (w["speed_mps"], w["from_deg"], w["arrow_deg"]) == (6.0, 250.0, 70.0)
    assert page.locator("#wind").is_visible()
    assert page.locator("#wind .text").inner_text() == "wind 6.0 m/s from 250° (W)"
    assert page.locator("#wind .arrow").get_attribute("transform") == "rotate(70)"
    _seek(page, 900.0)
    assert page.locator("#wind .text").inner_text() == "wind 9.0 m/s from 300° (NW)"
    assert page.locator("#wind .arrow").get_attribute("transform") == "rotate(120)"


def test_the_viewer_draws_moving_targets_their_tracks_and_the_datum(realism_page, realism_run):
    page = realism_page
    t = 900.0
    _seek(page, t)
    w = realism_run.world
    where = np.array(page.evaluate("() => window.viewer.targetPositions()"))
    np.testing.assert_allclose(where, w.targets_xy + w.target_velocity * t, atol=0.01)  # cm, mm/s
    drawn = page.evaluate("() => window.viewer.drawn")
    assert (drawn["targetTracks"], drawn["datums"]) == (len(w.target_ids), 1)
    legend = page.evaluate("() => window.viewer.legendText")
    assert "target track" in legend and "datum (drifting)" in legend
    # Each track is a line from where the target was at 0 to where it is now: its
    # middle is drawn on the overlay (opaque enough to see, in the targets' red).
    mids = (w.targets_xy + w.target_velocity * t / 2).tolist()
    screen = page.evaluate("(pts) => pts.map(([x, y]) => window.viewer.worldToScreen(x, y))",
                           mids)
    from test_viewer_browser import pixels

    for px in pixels(page, "overlay", screen):
        assert px[3] > 60 and px[0] > 150, px
    # The layer off: no tracks, no datum.
    page.evaluate("() => window.viewer.setLayer('targets', false)")
    _seek(page, 901.0)
    drawn = page.evaluate("() => window.viewer.drawn")
    assert (drawn["targetTracks"], drawn["datums"]) == (0, 0)


def test_the_viewer_draws_the_loiter_orbit_as_a_circle(realism_page, realism_run):
    page = realism_page
    loiter = realism_run.events_of("loiter")
    # Its climbing orbit over the base at take-off, its hold at ORBIT, then (idle at
    # the end of the hold) it loiters where it is.
    assert loiter["vehicle"].tolist() == [0, 0, 0]
    assert (loiter["x_m"][0], loiter["y_m"][0]) == pytest.approx((500.0 + R, 3000.0))
    cx, cy, r = float(loiter["x_m"][1]), float(loiter["y_m"][1]), float(loiter["value"][1])
    assert (cx, cy, r) == pytest.approx((ORBIT[0] + R, ORBIT[1], R))
    t = float(loiter["time_s"][1]) + 400.0
    # Zoomed on the orbit: 3 px per metre, so the chords' sagitta is ~16 px.
    page.evaluate("(h) => { location.hash = h; }",
                  f"t={t}&layers=terrain,missions,zones,bases,targets,trails,vehicles"
                  f"&view={cx},{cy},3")
    page.wait_for_function("(t) => window.viewer.simTime === t", arg=t)
    from test_viewer_browser import settle

    settle(page)
    (orbit,) = page.evaluate("() => window.viewer.orbits")
    assert orbit[0] == 0 and orbit[1:] == pytest.approx([cx, cy, r], abs=0.01)
    assert "loiter orbit" in page.evaluate("() => window.viewer.legendText")
    # On the circle halfway between two chord ends (where the chords are 0.076 R
    # inside it) the overlay is drawn; halfway between the circle and the chord's
    # middle it is not.
    n = 8
    on, off = [], []
    for k in range(n):
        a = math.pi - 2 * math.pi * (k + 0.5) / n
        on.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        rr = r * (1 + math.cos(math.pi / n)) / 2
        off.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    to_screen = "(pts) => pts.map(([x, y]) => window.viewer.worldToScreen(x, y))"
    on_a = _overlay_alpha(page, page.evaluate(to_screen, on))
    off_a = _overlay_alpha(page, page.evaluate(to_screen, off))
    assert min(on_a) > 100, on_a
    assert max(off_a) == 0, off_a
