"""The viewer in a real browser (Debian's chromium, headless, driven by Playwright):
it plays a replay of a real run and draws every vehicle where the legs table says it
is at the viewer's own simulated time.

Any console message, page error or request to a host other than 127.0.0.1 fails
the test. A screenshot is saved to test-artifacts/viewer.png.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from needs import require

require("pytest_playwright", "the browser tests need pytest-playwright (pip install -e '.[test]')")

from fleetsim.record import LEG_KINDS  # noqa: E402
from fleetsim.replay.keyframes import state_at  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
POS_TOL_M = 0.05
PX_TOL = 0.51  # float32 world positions -> screen pixels
# Routine kinds the "notable events" filter leaves out (viz/js/events.js NOT_NOTABLE
# without its safety kinds, which are always notable).
NOTABLE_SKIP = {"plan", "run_start", "run_end", "order_created", "order_assigned", "load_queue",
                "pickup", "work_start", "work_end", "arrive", "deconflict", "conflict",
                "strategic_delay", "link_restored", "los_end", "zone_exit", "charge_end",
                "action_start", "auth_request", "auth_granted", "ack", "review"}
# pytest-playwright's own base_url fixture triggers a pytest deprecation warning.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")


def open_viewer(page, url: str) -> list[str]:
    """Open the viewer at ``url`` and wait until it is ready; returns the list that
    collects console messages, page errors and requests leaving 127.0.0.1."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def only_local(route):
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()
        else:
            problems.append(f"request left 127.0.0.1: {url}")
            route.abort()

    page.context.route("**/*", only_local)
    page.on("request", lambda r: None if (urlsplit(r.url).hostname == "127.0.0.1"
                                          or r.url.startswith("data:"))
            else problems.append(f"request: {r.url}"))
    page.goto(url)
    page.wait_for_function("() => window.viewer && (window.viewer.ready || window.viewer.error)",
                           timeout=20_000)
    assert page.evaluate("() => window.viewer.error") is None
    return problems


@pytest.fixture()
def viewer(page, server):
    problems = open_viewer(page, server.url)
    yield page
    assert problems == []


def settle(page) -> float:
    """Wait until the frame on screen shows the viewer's current time; return that time."""
    page.wait_for_function("() => window.viewer.simTime === window.viewer.targetTime")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page.evaluate("() => window.viewer.simTime")


def pixels(page, canvas: str, points) -> list[list[int]]:
    """RGBA of canvas pixels at (x, y) points, read from one copy of the canvas."""
    return page.evaluate("""([id, pts]) => {
        const src = document.getElementById(id);
        const copy = document.createElement('canvas');
        copy.width = src.width; copy.height = src.height;
        const c = copy.getContext('2d', {willReadFrequently: true});
        c.drawImage(src, 0, 0);
        const img = c.getImageData(0, 0, copy.width, copy.height).data;
        return pts.map(([x, y]) => {
            const i = 4 * (Math.floor(y) * copy.width + Math.floor(x));
            return Array.from(img.slice(i, i + 4));
        });
    }""", [canvas, [[float(x), float(y)] for x, y in points]])


def check_drawn_where_the_legs_say(page, sorted_legs, tol_m=POS_TOL_M) -> dict:
    """Compare what the viewer drew at its simTime with the legs table."""
    pos = page.evaluate("() => window.viewer.positions()")
    t = pos["t"]
    ref = state_at(sorted_legs, t, side="left")
    x, y = np.array(pos["x"]), np.array(pos["y"])
    np.testing.assert_allclose(x, ref["x"], atol=tol_m, rtol=0)
    np.testing.assert_allclose(y, ref["y"], atol=tol_m, rtol=0)
    # float32 batteries: a boat's 100 kWh holds about 0.004 Wh apart.
    np.testing.assert_allclose(pos["battery"], ref["battery"], atol=1e-3, rtol=1e-7)
    assert pos["state"] == [LEG_KINDS[k] for k in ref["kind"]]
    # Screen positions follow the view transform of the legs' positions ...
    expect = page.evaluate("(pts) => pts.map(([x, y]) => window.viewer.worldToScreen(x, y))",
                           [[float(a), float(b)] for a, b in zip(ref["x"], ref["y"], strict=True)])
    np.testing.assert_allclose(pos["sx"], [e[0] for e in expect], atol=PX_TOL)
    np.testing.assert_allclose(pos["sy"], [e[1] for e in expect], atol=PX_TOL)
    # ... and there are opaque vehicle pixels there (trails are translucent).
    alpha = [px[3] for px in pixels(page, "overlay", [[a, b] for a, b in
                                                      zip(pos["sx"], pos["sy"], strict=True)])]
    inside = page.evaluate("""(pts) => { const c = document.getElementById('overlay');
        return pts.map(([x, y]) => x >= 2 && y >= 2 && x < c.width - 2 && y < c.height - 2); }""",
                           [[a, b] for a, b in zip(pos["sx"], pos["sy"], strict=True)])
    assert any(inside)
    assert [a for a, i in zip(alpha, inside, strict=True) if i] == [255] * sum(inside)
    return pos


def test_plays_and_draws_every_vehicle_where_the_legs_say(viewer, sorted_legs):
    page = viewer
    assert page.evaluate("() => [window.viewer.simTime, window.viewer.playing]") == [0, False]
    check_drawn_where_the_legs_say(page, sorted_legs)
    page.select_option("#speed", "100")
    page.click("#play")
    assert page.evaluate("() => window.viewer.playing")
    frame0 = page.evaluate("() => window.viewer.frame")
    # Play past the first chunk boundary (300 s): the next chunk is loaded on the way.
    page.wait_for_function("() => window.viewer.simTime > 330", timeout=15_000)
    page.click("#play")
    t = settle(page)
    assert not page.evaluate("() => window.viewer.playing")
    assert 330 < t < 600 and page.evaluate("() => window.viewer.chunk") == 1
    assert page.evaluate("() => window.viewer.frame") - frame0 > 20
    pos = check_drawn_where_the_legs_say(page, sorted_legs)
    assert "move" in pos["state"]
    counts = page.evaluate("() => window.viewer.counts")
    airborne = sum(s in ("takeoff", "move", "hold", "return", "land") for s in pos["state"])
    assert counts["active"] == counts["airborne"] == airborne
    assert counts["returning"] == pos["state"].count("return")
    assert counts["charging"] == pos["state"].count("charge")
    # The header says "airborne" (as the charts do), not "active".
    assert page.locator("#counts").inner_text().startswith(f"airborne {airborne}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer.png"))


def test_timeline_scrubs_forward_and_backward(viewer, sorted_legs):
    page = viewer
    for target in (1000.0, 1350.25, 123.5, 0.0, 899.0, 1500.0):
        page.fill("#timeline", str(target))  # sets the range input, fires "input"
        t = settle(page)
        assert t == pytest.approx(target, abs=1e-9)
        check_drawn_where_the_legs_say(page, sorted_legs)
        clock = page.locator("#clock").inner_text()
        h, m, s = clock.split(" / ")[0].split(":")
        assert int(h) * 3600 + int(m) * 60 + float(s) == pytest.approx(target, abs=0.051)
    page.keyboard.press("Home")
    assert settle(page) == 0


def test_clicking_an_event_lands_at_its_time_and_stepping_walks_the_events(viewer, bundle,
                                                                         small_run):
    page = viewer
    ev = small_run.events
    kinds = ev["kind"]
    det = np.flatnonzero(kinds == "detection")
    assert len(det)
    first = det[0]
    row = page.locator(".ev", has_text="detection").first
    assert float(row.get_attribute("data-time")) == ev["time_s"][first]
    row.click()
    t = settle(page)
    assert t == ev["time_s"][first]  # exactly: event times are float64 in the bundle
    ids = bundle.vehicles()["id"].tolist()
    assert page.evaluate("() => window.viewer.selected") == ids.index(int(ev["vehicle"][first]))
    assert "(selected)" in page.locator("#vehicle-info").inner_text()
    assert page.locator(".ev.current").first.inner_text().find("detection") >= 0
    notable = np.flatnonzero(~np.isin(kinds, list(NOTABLE_SKIP) + ["arrive"]))
    times = ev["time_s"][notable]
    nxt = times[times > t + 1e-6][0]
    page.click("#next-event")
    assert settle(page) == nxt
    page.keyboard.press("ArrowRight")
    assert settle(page) == times[times > nxt + 1e-6][0]
    page.click("#prev-event")
    assert settle(page) == nxt
    page.click("#prev-event")
    assert settle(page) == times[times < nxt - 1e-6][-1]
    # Filtering the list to one kind changes what stepping visits.
    page.select_option("#event-filter", "kind:charge_start")
    charge = ev["time_s"][kinds == "charge_start"]
    page.fill("#timeline", "0")
    settle(page)
    page.click("#next-event")
    assert settle(page) == charge[0]
    assert page.locator(".ev").count() == len(charge)


def test_layer_toggles_and_active_zones(viewer, sorted_legs):
    page = viewer
    page.fill("#timeline", "700")  # late_tfr (2600..3400 x 2000..2800) is active 600..1200 s
    settle(page)
    pos = check_drawn_where_the_legs_say(page, sorted_legs)
    v = int(np.argmax(pos["sx"]))  # any vehicle drawn (some fly, some charge at 700 s)
    px = [int(pos["sx"][v]), int(pos["sy"][v])]

    def overlay_alpha(p):
        return pixels(page, "overlay", [p])[0][3]

    def base_rgb(p):
        return pixels(page, "base", [p])[0][:3]

    assert overlay_alpha(px) == 255
    page.click("#layer-vehicles")
    settle(page)
    assert page.evaluate("() => window.viewer.layers.vehicles") is False
    assert overlay_alpha(px) < 255
    page.click("#layer-vehicles")
    settle(page)
    assert overlay_alpha(px) == 255
    # Without terrain and heat map, the zone alone colours the map inside it -- only
    # while it is active.
    page.click("#layer-terrain")
    page.click("#layer-heat")
    page.click("#layer-missions")
    settle(page)
    inside = [round(c) for c in page.evaluate("() => window.viewer.worldToScreen(3000, 2400)")]
    active = base_rgb(inside)
    page.fill("#timeline", "300")
    settle(page)
    inactive = base_rgb(inside)
    assert inactive == [20, 24, 29]  # the bare background
    assert active[0] > inactive[0] + 30  # red tint
    page.click("#layer-terrain")
    settle(page)
    assert base_rgb(inside) != inactive
    page.click("#layer-zones")
    page.fill("#timeline", "700")
    settle(page)
    assert base_rgb(inside) != active
    assert page.evaluate("() => window.viewer.layers") == {
        "terrain": True, "heat": False, "missions": False, "zones": False, "bases": True,
        "targets": True, "trails": True, "vehicles": True}


def test_hover_click_pan_and_zoom(viewer, sorted_legs, bundle):
    page = viewer
    page.fill("#timeline", "450")
    settle(page)
    pos = page.evaluate("() => window.viewer.positions()")
    sx, sy = np.array(pos["sx"]), np.array(pos["sy"])
    # The vehicle farthest from the others, so the pointer picks it unambiguously.
    d = np.hypot(sx[:, None] - sx[None], sy[:, None] - sy[None]) + np.eye(len(sx)) * 1e9
    v = int(np.argmax(d.min(axis=1)))
    at = page.evaluate("(v) => window.viewer.vehicleScreenPosition(v)", v)
    page.mouse.move(at["x"], at["y"])
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    vid = int(bundle.vehicles()["id"][v])
    text = tip.inner_text()
    assert f"v{vid}" in text and pos["state"][v] in text and "Wh" in text
    page.mouse.click(at["x"], at["y"])
    settle(page)
    assert page.evaluate("() => window.viewer.selected") == v
    info = page.locator("#vehicle-info").inner_text()
    assert f"v{vid} (selected)" in info and "quad" in info
    battery = state_at(sorted_legs, 450.0, side="left")["battery"][v]
    assert f"{battery:.1f} Wh" in info
    # Drag pans by exactly the drag; the wheel zooms about the pointer.
    page.mouse.move(at["x"] + 40, at["y"] + 40)
    page.mouse.down()
    page.mouse.move(at["x"] + 90, at["y"] + 70, steps=5)
    page.mouse.up()
    settle(page)
    after = page.evaluate("() => window.viewer.positions()")
    np.testing.assert_allclose(np.array(after["sx"]) - sx, 50, atol=1e-3)
    np.testing.assert_allclose(np.array(after["sy"]) - sy, 30, atol=1e-3)
    assert page.evaluate("() => window.viewer.selected") == v  # a drag is not a click
    at = page.evaluate("(v) => window.viewer.vehicleScreenPosition(v)", v)
    page.mouse.move(at["x"], at["y"])
    page.mouse.wheel(0, -300)
    settle(page)
    zoomed = page.evaluate("(v) => window.viewer.vehicleScreenPosition(v)", v)
    assert abs(zoomed["x"] - at["x"]) < 1 and abs(zoomed["y"] - at["y"]) < 1
    after = page.evaluate("() => window.viewer.positions()")
    spread0 = np.nanmax(sx) - np.nanmin(sx)
    assert np.nanmax(after["sx"]) - np.nanmin(after["sx"]) > 1.5 * spread0
    check_drawn_where_the_legs_say(page, sorted_legs)


# ---------------------------------------------------------------- a logistics run

@pytest.fixture()
def logistics_viewer(page, logistics_server):
    problems = open_viewer(page, logistics_server.url)
    yield page
    assert problems == []


def test_logistics_replay_shows_roads_orders_sites_and_vehicle_shapes(logistics_viewer,
                                                                       logistics_run):
    from replay_case import order_counts_from_events

    from fleetsim.replay.keyframes import sort_legs

    page = logistics_viewer
    sl = sort_legs(logistics_run.legs, logistics_run.vehicles)
    ev = logistics_run.events
    settle(page)
    drawn = page.evaluate("() => window.viewer.drawn")
    assert (drawn["roads"], drawn["closedRoads"]) == (110, 0)
    assert drawn["sites"] == {"depot": 2, "customer": 2, "launch_point": 1, "ground_station": 1}
    assert drawn["vehicles"] == 3  # the rider is docked on the van: not drawn apart
    assert {"roads", "orders", "water"} <= set(page.evaluate("() => window.viewer.layers"))
    legend = page.locator("#legend").inner_text()
    for entry in ("ground", "sea", "depot", "customer", "launch point", "ground station",
                  "closed road", "order waiting", "delivered", "failed"):
        assert entry in legend, entry
    # Order counts and pending destinations at times around the events.
    for target in (0.0, 99.9, 100.0, 300.0, 384.6, 450.0, 599.0, 600.0, 1200.0):
        page.fill("#timeline", str(target))
        t = settle(page)
        assert t == pytest.approx(target, abs=1e-9)
        want = order_counts_from_events(ev, t)
        assert page.evaluate("() => window.viewer.orderCounts()") == want, t
        drawn = page.evaluate("() => window.viewer.drawn")
        assert drawn["orders"] == want["pending"], t  # every destination is in view
        closed = int(t >= 100.0)
        assert (drawn["roads"], drawn["closedRoads"]) == (110 - closed, closed), t
        counts = page.evaluate("() => window.viewer.counts")
        assert counts["ordersPending"] == want["pending"]
        assert f"pending {want['pending']}" in page.locator("#counts").inner_text()
        check_drawn_where_the_legs_say(page, sl)
    # A delivery (the van's, at 450 s) flashes for a few seconds.
    page.fill("#timeline", "455")
    settle(page)
    assert page.evaluate("() => window.viewer.drawn.flashes") == 1
    # Glyphs by domain at 300 s: the van (ground) a square, the boat (sea) a diamond,
    # the quadrotor (air) round; each far from the others.
    page.fill("#timeline", "300")
    settle(page)
    pos = page.evaluate("() => window.viewer.positions()")
    assert pos["state"][3] == "docked"
    sx, sy = np.floor(pos["sx"][:3]), np.floor(pos["sy"][:3])
    d = np.hypot(sx[:, None] - sx[None], sy[:, None] - sy[None]) + np.eye(3) * 1e9
    assert d.min() > 12
    for v, same, other in ((0, [(2, 2), (-2, -2)], [(3, 0)]),  # square: corners, no tips
                           (2, [(3, 0), (0, -3)], [(2, 2)]),  # diamond: tips, no corners
                           (1, [(2, 0)], [(2, 2)])):  # round
        pts = [(sx[v] + dx, sy[v] + dy) for dx, dy in [(0, 0), *same, *other]]
        px = pixels(page, "overlay", pts)
        centre = px[0]
        assert centre[3] == 255
        assert px[1:1 + len(same)] == [centre] * len(same), v
        assert all(p != centre for p in px[1 + len(same):]), v
    # Notable events include the logistics outcomes; their rows say what happened.
    kinds = ev["kind"]
    n_notable = int((~np.isin(kinds, list(NOTABLE_SKIP))).sum())
    assert page.locator("#event-filter option").first.inner_text() == (
        f"notable events ({n_notable})")
    closed_detail = ev["detail"][kinds == "road_closed"][0]
    for kind, text in (("order_failed", "order h (capacity)"), ("road_closed",
                                                                 f"road {closed_detail}"),
                       ("launch", "v3 from v0"), ("dock", "v3 onto v0")):
        page.select_option("#event-filter", f"kind:{kind}")
        rows = page.locator(".ev")
        assert rows.count() == 1 and text in rows.first.inner_text(), kind
    page.select_option("#event-filter", "kind:delivered")
    assert page.locator(".ev").count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer-logistics.png"))
    # The roads and orders layers toggle.
    page.click("#layer-roads")
    page.click("#layer-orders")
    settle(page)
    drawn = page.evaluate("() => window.viewer.drawn")
    assert (drawn["roads"], drawn["closedRoads"], drawn["orders"]) == (0, 0, 0)
