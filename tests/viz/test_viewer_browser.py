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
from replay_case import IN_CI

if not IN_CI:  # in CI a missing plugin is an error, not a skip
    pytest.importorskip("pytest_playwright", reason="the browser tests need pytest-playwright "
                        "(pip install -e '.[test]')")

from fleetsim.record import LEG_KINDS  # noqa: E402
from fleetsim.replay.keyframes import state_at  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
POS_TOL_M = 0.05
PX_TOL = 0.51  # float32 world positions -> screen pixels
NOTABLE_SKIP = {"plan", "terrain_violation", "run_start", "run_end"}
# pytest-playwright's own base_url fixture triggers a pytest deprecation warning.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")


@pytest.fixture()
def viewer(page, server):
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
    page.goto(server.url)
    page.wait_for_function("() => window.viewer && (window.viewer.ready || window.viewer.error)",
                           timeout=20_000)
    assert page.evaluate("() => window.viewer.error") is None
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
    np.testing.assert_allclose(pos["battery"], ref["battery"], atol=1e-3, rtol=0)
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
    assert page.locator("#counts").inner_text().startswith(f"active {airborne}")
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
