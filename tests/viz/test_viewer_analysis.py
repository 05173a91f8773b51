"""The viewer as an analyst's instrument, in a real browser (Debian's chromium): the
charts panel on the timeline, the map's controls, site badges, grouped events, losses
of separation, the selected vehicle's track, the legend, the heat map, the view in the
URL and the PNG export. Every figure is checked against the run's own tables.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from needs import require

require("pytest_playwright", "the browser tests need pytest-playwright (pip install -e '.[test]')")

from replay_case import CHUNK_S  # noqa: E402
from test_viewer_browser import open_viewer, pixels, settle  # noqa: E402

from fleetsim.metrics.timeseries import COLUMNS, timeseries  # noqa: E402
from fleetsim.record import LEG_KINDS  # noqa: E402
from fleetsim.replay import read_replay, write_replay_into  # noqa: E402
from fleetsim.replay.keyframes import state_at  # noqa: E402
from fleetsim.scenario.model import OversightSpec, ShiftSpec  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")
VIZ = Path(__file__).resolve().parents[2] / "viz"
BACKGROUND = [20, 24, 29]  # the map's bare background
MASKED = [58, 63, 70]  # no-fly cells of the heat map


@pytest.fixture()
def viewer(page, server):
    problems = open_viewer(page, server.url)
    yield page
    assert problems == []


def view(page) -> dict:
    return page.evaluate("() => window.viewer.view")


# ---------------------------------------------------------------- the bundle's time series

def test_bundle_carries_the_time_series_and_version_1_bundles_still_read(small_run, bundle,
                                                                         tmp_path):
    series = timeseries(small_run)
    got = bundle.timeseries()
    m = bundle.manifest
    assert m["version"] == 2
    applies = [k for k in COLUMNS if series[k] is not None]
    assert sorted(got) == sorted(applies)
    assert m["timeseries"]["absent"] == [k for k in COLUMNS if series[k] is None]
    for k in applies:
        np.testing.assert_array_equal(got[k], np.asarray(series[k], dtype=np.float64))
    present = set(np.unique(small_run.legs["kind"]).tolist())
    assert m["leg_kinds_present"] == [k for k in LEG_KINDS if k in present]
    # A version 1 bundle (no time series) still reads; a version 3 one does not.
    old = tmp_path / "v1"
    shutil.copytree(bundle.root, old)
    man = json.loads((old / "manifest.json").read_text())
    man["version"] = 1
    del man["timeseries"], man["leg_kinds_present"]
    (old / "timeseries.bin").unlink()
    (old / "manifest.json").write_text(json.dumps(man))
    assert read_replay(old).timeseries() is None
    man["version"] = 3
    (old / "manifest.json").write_text(json.dumps(man))
    from fleetsim.errors import RunDirError

    with pytest.raises(RunDirError, match="replay format version 3; this fleetsim reads"):
        read_replay(old)


def test_version_1_bundle_plays_without_charts(page, bundle, tmp_path):
    from fleetsim.replay.server import ReplayServer

    old = tmp_path / "v1"
    shutil.copytree(bundle.root, old)
    man = json.loads((old / "manifest.json").read_text())
    man["version"] = 1
    del man["timeseries"], man["leg_kinds_present"]
    (old / "manifest.json").write_text(json.dumps(man))
    with ReplayServer(old, "127.0.0.1", 0).start() as srv:
        problems = open_viewer(page, srv.url)
        assert page.evaluate("() => window.viewer.charts.open") is False
        assert page.locator("#charts").is_hidden()
        legend = page.locator("#legend").inner_text()
        assert "wait_load" in legend  # every leg kind, not knowing which occur
    assert problems == []


# ---------------------------------------------------------------- 1. charts

def test_charts_draw_the_series_that_apply_and_follow_the_timeline(viewer, bundle):
    page = viewer
    charts = page.evaluate("() => window.viewer.charts")
    assert charts["open"]
    # No orders, operators or separation in this run: fleet, coverage, detections.
    assert charts["series"] == [["airborne", "returning", "charging", "queued_for_pad",
                                 "on_ground"], ["coverage_fraction"], ["detections"]]
    for t in (0.0, 750.0, 1499.0):
        page.evaluate("(t) => window.viewer.seek(t)", t)
        settle(page)
        c = page.evaluate("() => window.viewer.charts")
        x = page.evaluate("(t) => window.viewer.chartX(t)", t)
        assert c["cursorT"] == t and c["cursorX"] == round(x) + 0.5
        # The cursor line is drawn there, white, from top to bottom.
        h = page.evaluate("() => document.getElementById('charts-canvas').height")
        col = pixels(page, "charts-canvas", [[c["cursorX"], 1], [c["cursorX"], h - 2]])
        assert col == [[255, 255, 255, 255]] * 2
    # The chart's time axis is the timeline's: the slider's thumb at t sits over x(t).
    page.evaluate("() => window.viewer.seek(900)")
    settle(page)
    box = page.locator("#charts-canvas").bounding_box()
    tl = page.locator("#timeline").bounding_box()
    x900 = box["x"] + page.evaluate("() => window.viewer.chartX(900)")
    assert tl["x"] + 8 + (tl["width"] - 16) * 900 / 1500 == pytest.approx(x900, abs=1.5)
    # A click on the charts seeks to the time under the pointer.
    x = page.evaluate("() => window.viewer.chartX(333)")
    page.mouse.click(box["x"] + x, box["y"] + 10)
    t = settle(page)
    px_s = 1500 / (charts["x1"] - charts["x0"])
    assert t == pytest.approx(333, abs=px_s)
    # The values in the gutter are the series' samples at or before t.
    ts = bundle.timeseries()
    i = int(np.searchsorted(ts["time_s"], t, side="right") - 1)
    text = page.evaluate("() => window.viewer.chartsText")
    assert f"airborne {int(ts['airborne'][i])}" in text
    assert f"covered {100 * ts['coverage_fraction'][i]:.1f}" in text


@pytest.fixture(scope="module")
def oversight_bundle(small_run, tmp_path_factory):
    """The small run under oversight: two operators on shift over [0, 900), one over
    [900, 1500); operator 0 serves [100, 400) and [1000, 1200), operator 1 [200, 300)
    (work items added to the events). Also a copy without the operator columns, as a
    bundle written before they existed."""
    work = [(100.0, "work_start", 0), (200.0, "work_start", 1), (300.0, "work_end", 1),
            (400.0, "work_end", 0), (1000.0, "work_start", 0), (1200.0, "work_end", 0)]
    ev = {k: list(v) for k, v in small_run.events.items()}
    for t, kind, op in work:
        row = {"time_s": t, "kind": kind, "vehicle": 0, "operator": op, "detail": "approve"}
        for k in ev:
            ev[k].append(row.get(
                k, np.nan if np.asarray(small_run.events[k]).dtype.kind == "f" else
                ("" if np.asarray(small_run.events[k]).dtype == object else -1)))
    order = np.argsort(np.asarray(ev["time_s"]), kind="stable")
    events = {k: np.asarray(v, dtype=np.asarray(small_run.events[k]).dtype)[order]
              for k, v in ev.items()}
    shifts = (ShiftSpec(0.0, 900.0, 2), ShiftSpec(900.0, 1500.0, 1))
    sc = dataclasses.replace(small_run.scenario,
                             oversight=OversightSpec(operators=2, shifts=shifts))
    run = dataclasses.replace(small_run, events=events, scenario=sc)
    out = tmp_path_factory.mktemp("viz") / "oversight"
    write_replay_into(out, run, chunk_s=CHUNK_S)
    old = out.parent / "oversight_old"
    shutil.copytree(out, old)
    man = json.loads((old / "manifest.json").read_text())
    for name in ("operators_on_duty", "operators_busy"):
        del man["timeseries"]["columns"][name]
    (old / "manifest.json").write_text(json.dumps(man))
    return run, out, old


def test_operators_chart_draws_utilisation_when_the_run_has_oversight(page, oversight_bundle):
    from fleetsim.replay.server import ReplayServer

    run, out, old = oversight_bundle
    ts = read_replay(out).timeseries()
    np.testing.assert_array_equal(ts["operators_busy"], timeseries(run)["operators_busy"])
    fleet = ["airborne", "returning", "charging", "queued_for_pad", "on_ground"]
    with ReplayServer(out, "127.0.0.1", 0).start() as srv:
        problems = open_viewer(page, srv.url)
        charts = page.evaluate("() => window.viewer.charts")
        assert charts["series"] == [fleet, ["coverage_fraction"], ["detections"],
                                    ["operator_queue", "operators_busy", "operators_on_duty"]]
        # The gutter's values are the samples at or before t (one every 60 s).
        for t, busy, on_duty in ((150.0, 1, 2), (250.0, 2, 2), (450.0, 0, 2),
                                 (1100.0, 1, 1), (1300.0, 0, 1)):
            page.evaluate("(t) => window.viewer.seek(t)", t)
            settle(page)
            text = page.evaluate("() => window.viewer.chartsText")
            assert f"busy {busy} | on duty {on_duty}" in text, (t, text)
        # The lines are drawn in the operators row (the last, rows 92..118 of the
        # canvas): at t = 150 on duty (2, teal) at the top, busy (1, amber) in the
        # middle, the queue (0, violet) at the bottom. Antialiasing blends a line
        # with the background, so its pixels are told by which channels stand out.
        x = page.evaluate("() => window.viewer.chartX(150)")
        column = pixels(page, "charts-canvas", [[x, y] for y in range(92, 118)])
        kinds = {"teal": lambda r, g, b: g > r + 60 and b > r + 60,
                 "amber": lambda r, g, b: r > 200 and g > 120 and b < 100,
                 "violet": lambda r, g, b: b > g + 40 and r > g + 10}
        first = {name: next((y for y, (r, g, b, _) in enumerate(column) if test(r, g, b)),
                            None) for name, test in kinds.items()}
        assert None not in first.values(), first
        assert first["teal"] < first["amber"] < first["violet"], first
        # On duty 2 is the row's top (its scale is 2), the queue 0 its bottom.
        assert first["teal"] <= 3 and first["violet"] >= 20, first
        assert problems == []
    # A bundle written before the operator columns: the queue alone, no error.
    with ReplayServer(old, "127.0.0.1", 0).start() as srv:
        problems = open_viewer(page, srv.url)
        assert page.evaluate("() => window.viewer.charts")["series"][-1] == ["operator_queue"]
        assert problems == []


# ---------------------------------------------------------------- 2. controls

def test_fit_by_mouse_click_and_key_f_keeps_the_selection(viewer):
    page = viewer
    fitted = view(page)
    page.evaluate("() => window.viewer.seek(450)")
    settle(page)
    page.evaluate("() => window.viewer.select(2)")
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.wheel(0, -600)
    settle(page)
    assert view(page)["scale"] > 1.5 * fitted["scale"]
    page.locator("#fit").click()  # a real mouse click on the button
    settle(page)
    assert view(page) == fitted
    assert page.evaluate("() => window.viewer.selected") == 2
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.wheel(0, 500)
    settle(page)
    assert view(page) != fitted
    page.locator("#map").focus()
    page.keyboard.press("f")
    settle(page)
    assert view(page) == fitted
    # A double-click on the map fits too.
    page.mouse.wheel(0, -500)
    settle(page)
    assert view(page) != fitted
    page.mouse.dblclick(box["x"] + 30, box["y"] + box["height"] - 150)
    settle(page)
    assert view(page) == fitted


def test_space_plays_whatever_has_focus(viewer):
    page = viewer
    page.select_option("#speed", "10")
    for focus in ("#speed", "#heat-mode", "#fit", "#layer-trails", "#event-filter"):
        page.focus(focus)
        playing = page.evaluate("() => window.viewer.playing")
        page.keyboard.press(" ")
        assert page.evaluate("() => window.viewer.playing") is (not playing), focus
    assert page.evaluate("() => window.viewer.speed") == 10
    assert page.evaluate("() => window.viewer.layers.trails") is True  # not toggled


def test_opened_from_disk_the_page_says_which_command_to_run(page):
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto((VIZ / "index.html").as_uri())
    status = page.locator("#status")
    status.wait_for(state="visible")
    text = status.inner_text()
    assert "file://" in text and "fleetsim view RUN_DIR" in text
    assert "loading" not in text
    assert problems == []


# ---------------------------------------------------------------- 3. bases and pads

def test_site_badges_count_vehicles_parked_charging_queued_taking_off_and_landing(
        viewer, sorted_legs, bundle):
    page = viewer
    sites = [s["id"] for s in bundle.layer("sites")]
    base = bundle.vehicles()["base"]
    seen = set()
    for t in (0.0, 5.0, 700.0, 1000.0, 1300.0):
        page.evaluate("(t) => window.viewer.seek(t)", t)
        settle(page)
        kinds = state_at(sorted_legs, page.evaluate("() => window.viewer.simTime"),
                         side="left")["kind"]
        want = {}
        slots = (("parked", "ground"), ("charging", "charge"), ("queued", "wait_pad"),
                 ("takingOff", "takeoff"), ("landing", "land"))
        for slot, kind in slots:
            for v in np.flatnonzero(kinds == LEG_KINDS.index(kind)):
                site = want.setdefault(sites[base[v]], dict.fromkeys([s for s, _ in slots], 0))
                site[slot] += 1
                seen.add(slot)
        assert page.evaluate("() => window.viewer.siteCounts") == want, t
    assert {"charging", "queued", "takingOff"} <= seen  # it charges and queues for pads


# ---------------------------------------------------------------- 4. events

def group_rows(events, keep, vehicles_base):
    """The viewer's rows: bursts of >= 3 events of one kind at one place (zone, or the
    vehicle's base for take-offs and the like), each within 5 s of the previous."""
    site_kinds = {"takeoff", "landed", "pad_queue", "charge_start", "charge_end",
                  "return_start", "launch", "dock"}
    groups, open_ = [], {}
    for i in keep:
        k = events["kind"][i]
        if events["zone"][i] >= 0:
            place = f"z{events['zone'][i]}"
        elif k in site_kinds and events["vehicle"][i] >= 0:
            place = f"s{vehicles_base[events['vehicle'][i]]}"
        else:
            place = ""
        g = open_.get((k, place))
        if g and events["time_s"][i] - events["time_s"][g[-1]] <= 5:
            g.append(i)
            continue
        open_[(k, place)] = ng = [i]
        groups.append(ng)
    rows = []
    for g in groups:
        rows += [g] if len(g) >= 3 else [[i] for i in g]
    rows.sort(key=lambda g: (events["time_s"][g[0]], g[0]))
    return rows


def test_bursts_are_one_row_safety_events_are_notable_and_stepping_walks_the_rows(viewer,
                                                                                    bundle):
    from test_viewer_browser import NOTABLE_SKIP

    page = viewer
    ev = bundle.events()
    kinds = np.array(bundle.manifest["event_kinds"], dtype=object)[ev["kind"]]
    evs = {**ev, "kind": kinds}
    keep = np.flatnonzero(~np.isin(kinds, list(NOTABLE_SKIP)))
    rows = group_rows(evs, keep, bundle.vehicles()["base"])
    got = page.evaluate("() => window.viewer.eventRows")
    assert [r["events"] for r in got] == rows
    # The eight take-offs at t = 0 are two rows, one per base.
    first = page.locator(".ev").first
    assert first.inner_text().endswith("takeoff ×4 at west, 00:00:00.0–00:00:00.0")
    assert page.locator(".ev").nth(1).inner_text().endswith("takeoff ×4 at east, "
                                                             "00:00:00.0–00:00:00.0")
    assert "4 takeoff events at west" in first.get_attribute("title")
    assert page.locator("#event-count").inner_text() == str(len(rows))
    # zone_enter (a geofence entry) is notable and marked, red-edged, in the list.
    assert "zone_enter" in {r["kind"] for r in got}
    assert page.locator(".ev.safety").count() >= 1
    # Safety events are marked in the strip's top rows, whatever the filter.
    page.select_option("#event-filter", "kind:detection")
    t_enter = float(ev["time_s"][kinds == "zone_enter"][0])
    xs = page.evaluate("""(t) => { const c = document.getElementById('event-strip');
        return Math.floor((t - window.viewer.start) / (window.viewer.end - window.viewer.start)
                          * c.width); }""", t_enter)
    assert pixels(page, "event-strip", [[xs, 1]])[0][3] == 255
    page.select_option("#event-filter", "notable")
    # Next / previous visit the rows' first events, in order, both ways.
    starts = [float(ev["time_s"][g[0]]) for g in rows]
    distinct = sorted(set(starts))
    page.evaluate("() => window.viewer.seek(0)")
    settle(page)
    visited = []
    for _ in range(6):
        page.click("#next-event")
        visited.append(settle(page))
    assert visited == distinct[1:7]
    for _ in range(3):
        page.click("#prev-event")
        visited.append(settle(page))
    assert visited[6:] == distinct[5:2:-1]


# ---------------------------------------------------------------- 5. separation, selection

@pytest.fixture(scope="module")
def los_server(small_run, tmp_path_factory):
    """The small run with two losses of separation added to its events (vehicles 0-1
    from 400 s to 460 s, 2-5 from 410 s to 420 s)."""
    from fleetsim.replay.server import ReplayServer

    ev = {k: list(v) for k, v in small_run.events.items()}
    extra = [(400.0, "los_start", 0, 1), (460.0, "los_end", 0, 1),
             (410.0, "los_start", 2, 5), (420.0, "los_end", 2, 5)]
    for t, kind, a, b in extra:
        for k in ev:
            ev[k].append({"time_s": t, "kind": kind, "vehicle": a, "target": b}.get(
                k, np.nan if np.asarray(small_run.events[k]).dtype.kind == "f" else
                ("" if np.asarray(small_run.events[k]).dtype == object else -1)))
    order = np.argsort(np.asarray(ev["time_s"]), kind="stable")
    events = {k: np.asarray(v, dtype=np.asarray(small_run.events[k]).dtype)[order]
              for k, v in ev.items()}
    run = dataclasses.replace(small_run, events=events)
    out = tmp_path_factory.mktemp("viz") / "los"
    write_replay_into(out, run, chunk_s=CHUNK_S)
    with ReplayServer(out, "127.0.0.1", 0).start() as srv:
        yield srv


def test_losses_of_separation_are_drawn_while_they_last(page, los_server):
    problems = open_viewer(page, los_server.url)
    for t, pairs in ((399.0, []), (400.0, [[0, 1]]), (415.0, [[0, 1], [2, 5]]),
                     (420.0, [[0, 1]]), (459.9, [[0, 1]]), (460.0, [])):
        page.evaluate("(t) => window.viewer.seek(t)", t)
        settle(page)
        assert page.evaluate("() => window.viewer.losPairs") == pairs, t
        if pairs:
            assert "loss of separation" in page.locator("#legend").inner_text()
    # The line between the pair: its midpoint is drawn red.
    page.evaluate("() => window.viewer.seek(430)")
    settle(page)
    a = page.evaluate("() => window.viewer.vehicleScreenPosition(0)")
    b = page.evaluate("() => window.viewer.vehicleScreenPosition(1)")
    if np.hypot(a["canvasX"] - b["canvasX"], a["canvasY"] - b["canvasY"]) > 30:
        mid = [(a["canvasX"] + b["canvasX"]) / 2, (a["canvasY"] + b["canvasY"]) / 2]
        r, g, bl, al = pixels(page, "overlay", [mid])[0]
        assert r > 200 and g < 90 and al == 255
    assert problems == []


def test_selection_follows_with_track_and_the_tooltip_leaves_with_the_vehicle(viewer, bundle):
    page = viewer
    page.evaluate("() => window.viewer.seek(450)")
    settle(page)
    v = 3
    page.evaluate("(v) => window.viewer.select(v)", v)
    page.check("#follow")
    for t in (500.0, 620.0):
        page.evaluate("(t) => window.viewer.seek(t)", t)
        settle(page)
        at = page.evaluate("(v) => window.viewer.vehicleScreenPosition(v)", v)
        w, h = page.evaluate("() => [window.viewer.drawn.scaleBar && "
                             "document.getElementById('overlay').width, "
                             "document.getElementById('overlay').height]")
        assert at["canvasX"] == pytest.approx(w / 2, abs=0.51)
        assert at["canvasY"] == pytest.approx(h / 2, abs=0.51)
        track = page.evaluate("() => window.viewer.drawn.track")
        assert track["past"] >= 2 and track["ahead"] >= 2
    assert "follow=1" in page.evaluate("() => window.viewer.hash")
    # "fit" ends following.
    page.locator("#fit").click()
    assert page.evaluate("() => window.viewer.follow") is False
    # Clicking an event whose vehicle is off screen brings it into view.
    box = page.locator("#map").bounding_box()
    for _ in range(4):
        page.mouse.move(box["x"] + 5, box["y"] + 5)
        page.mouse.wheel(0, -400)
    settle(page)
    page.select_option("#event-filter", "kind:detection")
    page.locator(".ev").nth(3).click()
    t = settle(page)
    veh = page.evaluate("() => window.viewer.selected")
    ev = bundle.events()
    det = bundle.manifest["event_kinds"].index("detection")
    assert veh in ev["vehicle"][(ev["kind"] == det) & (ev["time_s"] == t)].tolist()
    at = page.evaluate("(v) => window.viewer.vehicleScreenPosition(v)", veh)
    w, h = page.evaluate("() => [document.getElementById('overlay').width, "
                         "document.getElementById('overlay').height]")
    assert 0 <= at["canvasX"] <= w and 0 <= at["canvasY"] <= h
    # Hover a vehicle; once it has flown away from the pointer its tooltip goes.
    page.locator("#fit").click()
    page.evaluate("() => window.viewer.seek(450)")
    settle(page)
    pos = page.evaluate("() => window.viewer.positions()")
    moving = [k for k, s in enumerate(pos["state"]) if s == "move"]
    at = page.evaluate("(v) => window.viewer.vehicleScreenPosition(v)", moving[0])
    page.mouse.move(at["x"], at["y"])
    page.locator("#tooltip").wait_for(state="visible")
    page.evaluate("() => window.viewer.seek(600)")
    settle(page)
    page.wait_for_function("() => document.getElementById('tooltip').hidden")


# ---------------------------------------------------------------- 6. legend and map aids

def test_legend_lists_what_is_present_and_the_map_shows_scale_and_elevation(viewer, bundle):
    page = viewer
    legend = page.locator("#legend").inner_text()
    present = bundle.manifest["leg_kinds_present"]
    for k in LEG_KINDS:
        assert (k in legend.split("\n") or f"{k}\t" in legend or k in legend) == (k in present), k
    for entry in ("mission area", "restricted zone", "no-fly (inactive)", "target not found",
                  "target found", "idleness 0"):
        assert entry in legend, entry
    assert "no-fly zone" not in legend  # late_tfr is active only from 600 s
    page.evaluate("() => window.viewer.seek(700)")
    settle(page)
    assert "no-fly zone" in page.locator("#legend").inner_text()
    # Scale bar: a round number of metres, as many pixels as the view's scale says.
    bar = page.evaluate("() => window.viewer.drawn.scaleBar")
    assert bar["pixels"] == pytest.approx(bar["metres"] * view(page)["scale"])
    assert str(bar["metres"])[0] in "125" and set(str(int(bar["metres"]))[1:]) <= {"0"}
    # Cursor coordinates and the terrain's elevation there (bilinear in the grid).
    sx, sy = page.evaluate("() => window.viewer.worldToScreen(1234, 987)")
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + sx, box["y"] + sy)
    text = page.locator("#cursor-pos").inner_text()
    cur = page.evaluate("() => window.viewer.cursor")
    wx, wy = cur["x"], cur["y"]
    assert abs(wx - 1234) < 1 / view(page)["scale"] and abs(wy - 987) < 1 / view(page)["scale"]
    h = bundle.manifest["layers"]["terrain"]["heights"]
    grid = bundle.heights().astype(np.float64)
    fx, fy = (wx - h["origin_m"][0]) / h["spacing_m"], (wy - h["origin_m"][1]) / h["spacing_m"]
    i, j = int(fx), int(fy)
    u, w = fx - i, fy - j
    z = ((1 - w) * ((1 - u) * grid[j, i] + u * grid[j, i + 1])
         + w * ((1 - u) * grid[j + 1, i] + u * grid[j + 1, i + 1]))
    assert cur["z"] == pytest.approx(z, abs=1e-3)
    assert text == f"x {wx:.0f} m · y {wy:.0f} m · elevation {cur['z']:.0f} m"
    # Zone labels: the no-fly zone's id is written above it.
    assert page.evaluate("() => window.viewer.drawn.zoneLabels") == [
        "corridor (restricted)", "late_tfr (no-fly)"]


# ---------------------------------------------------------------- 7. heat map

def test_heat_map_is_opaque_viridis_with_fixed_scale_masked_no_fly_and_density(viewer, bundle):
    page = viewer
    page.click("#layer-terrain")
    page.click("#layer-zones")
    page.click("#layer-missions")
    page.click("#layer-targets")
    page.click("#layer-vehicles")
    page.click("#layer-trails")
    page.click("#layer-bases")
    page.evaluate("() => window.viewer.seek(700)")  # late_tfr (no-fly) is active
    settle(page)
    cov = bundle.coverage()
    entry = bundle.manifest["layers"]["coverage"]
    g = entry["grid"]
    times = np.asarray(entry["times_s"])
    k = int(np.searchsorted(times, 700, side="right") - 1)
    idle = cov["idleness"].reshape(len(times), g["ny"], g["nx"])[k]
    heat = page.evaluate("() => window.viewer.heat")
    max_code = heat["maxS"] / entry["idleness_scale_s"]

    def cell_px(r, c):
        x = g["x0_m"] + (c + 0.5) * g["cell_m"]
        y = g["y0_m"] + (r + 0.5) * g["cell_m"]
        return page.evaluate("([x, y]) => window.viewer.worldToScreen(x, y)", [x, y])

    def ramp(f):
        return page.evaluate("(f) => window.viewerRamp(f)", f)

    # A cell of the field outside the zone: the ramp's colour of its idleness, opaque.
    r, c = 10, 10
    got = pixels(page, "base", [cell_px(r, c)])[0]
    assert got == [*ramp(idle[r, c] / max_code), 255]
    # A cell inside late_tfr: masked.
    r = int((2400 - g["y0_m"]) // g["cell_m"])
    c = int((3000 - g["x0_m"]) // g["cell_m"])
    assert pixels(page, "base", [cell_px(r, c)])[0] == [*MASKED, 255]
    # Outside the mission area: nothing drawn.
    out = page.evaluate("() => window.viewer.worldToScreen(300, 300)")
    assert pixels(page, "base", [out])[0][:3] == BACKGROUND
    # A fixed scale, in minutes: 10 min tops the ramp; the legend says so.
    page.check("#heat-fixed")
    page.fill("#heat-max-min", "10")
    page.dispatch_event("#heat-max-min", "change")
    settle(page)
    assert page.evaluate("() => window.viewer.heat.maxS") == 600
    assert "10 min (fixed)" in page.locator("#legend").inner_text()
    r, c = 10, 10
    code = int(idle[r, c])
    assert pixels(page, "base", [cell_px(r, c)])[0] == [
        *ramp(code * entry["idleness_scale_s"] / 600), 255]
    # Vehicle density: vehicles per cell of a grid over the world.
    page.select_option("#heat-mode", "density")
    settle(page)
    heat = page.evaluate("() => window.viewer.heat")
    pos = page.evaluate("() => window.viewer.positions()")
    w, h = page.evaluate("() => [document.getElementById('base').width, "
                         "document.getElementById('base').height]")
    sx, sy = np.array(pos["sx"]), np.array(pos["sy"])
    on = (sx >= 0) & (sy >= 0) & (sx < w) & (sy < h)
    cells = np.floor(sx[on] / 12).astype(int) * 10_000 + np.floor(sy[on] / 12).astype(int)
    assert heat["mode"] == "density" and heat["densityMax"] == np.unique(
        cells, return_counts=True)[1].max()
    assert "vehicles per cell" in page.locator("#legend").inner_text()


# ---------------------------------------------------------------- 8. URL, ticks, PNG

def test_view_in_the_url_timeline_ticks_and_hover_and_png(viewer, server, bundle, tmp_path,
                                                          context):
    page = viewer
    page.evaluate("() => window.viewer.seek(1234.5)")
    page.evaluate("() => window.viewer.select(5)")
    page.click("#layer-heat")
    settle(page)
    page.wait_for_function("() => location.hash === '#' + window.viewer.hash")
    url = page.url
    vid = int(bundle.vehicles()["id"][5])
    assert f"v={vid}" in url and "layers=" in url and "heat" not in url.split("layers=")[1]
    other = context.new_page()
    problems = open_viewer(other, url)
    assert settle(other) == 1234.5
    assert other.evaluate("() => window.viewer.selected") == 5
    assert other.evaluate("() => window.viewer.layers.heat") is False
    assert other.evaluate("() => window.viewer.view") == view(page)
    assert problems == []
    other.close()
    # Ticks at a round step (at least 70 px apart) over the 25 minutes; hovering the
    # timeline shows the time under the pointer.
    ticks = page.evaluate("() => window.viewer.ticks")
    step = ticks[1] - ticks[0]
    assert step in (60, 120, 300) and ticks == list(range(0, 1501, step))
    tl = page.locator("#timeline").bounding_box()
    page.mouse.move(tl["x"] + 8 + (tl["width"] - 16) * 0.5, tl["y"] + tl["height"] / 2)
    hover = page.locator("#timeline-hover")
    hover.wait_for(state="visible")
    assert hover.inner_text() == "00:12:30.0"
    # Save PNG: a download of the current view.
    with page.expect_download() as dl:
        page.locator("#save-png").click()
    path = tmp_path / "view.png"
    dl.value.save_as(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    cw, ch = page.evaluate("() => [document.getElementById('base').width, "
                           "document.getElementById('base').height]")
    assert (w, h) == (cw, ch + 24)
    assert dl.value.suggested_filename == "viewer_test-1234s.png"


def test_layers_with_nothing_to_show_are_disabled_and_water_looks_like_water(page,
                                                                            logistics_server,
                                                                            logistics_bundle):
    problems = open_viewer(page, logistics_server.url)
    settle(page)
    # The logistics run has no mission area, zone or target.
    for name in ("missions", "zones", "targets"):
        assert page.locator(f"#layer-{name}").is_disabled(), name
    for name in ("terrain", "water", "roads", "orders", "vehicles"):
        assert page.locator(f"#layer-{name}").is_enabled(), name
    # No mission area: the heat map can only be vehicle density.
    assert page.eval_on_selector_all("#heat-mode option", "os => os.map(o => o.value)") == [
        "density"]
    assert page.evaluate("() => window.viewer.heat.mode") == "density"
    # Water (x >= 3200 m) is drawn blue, unlike the land beside it.
    water = page.evaluate("() => window.viewer.worldToScreen(3700, 2000)")
    land = page.evaluate("() => window.viewer.worldToScreen(2900, 2100)")
    (r, g, b, _), (lr, lg, lb, _) = pixels(page, "base", [water, land])
    assert b > r + 60 and b > g + 30
    assert not (lb > lr + 60)
    assert problems == []


def test_sea_is_drawn_as_water_in_the_hillshade():
    from fleetsim.replay.layers import SEA_RGB, terrain_layer
    from fleetsim.world.terrain import Terrain

    heights = np.add.outer(np.linspace(-50, 50, 11), np.zeros(8))  # rows south to north
    land = Terrain(heights, 10.0, (0.0, 0.0))
    _, rgb_land, _ = terrain_layer(land)
    sea = Terrain(np.maximum(heights, 0.0), 10.0, (0.0, 0.0))
    sea.water = heights < 0
    sea.sea_level_m = 0.0
    _, rgb, _ = terrain_layer(sea)
    wet = (heights < 0)[::-1]  # image rows north first
    assert (rgb[wet] == SEA_RGB).all()
    assert not (rgb[~wet] == SEA_RGB).all(axis=-1).any()
    assert not (rgb_land == SEA_RGB).all(axis=-1).any()
