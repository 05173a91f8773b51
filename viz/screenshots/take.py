"""Screenshots of the viewer for viz/README.md: each run at its start, its middle and
with a safety event selected, in headless Chromium (as the browser tests run it).

    python viz/screenshots/take.py RUN_DIR [RUN_DIR ...] [--out viz/screenshots]

Each RUN_DIR needs its replay bundle (``fleetsim replay RUN_DIR`` refreshes it, and
the viewer in it). The middle of a run of more than 3,000 vehicles shows the vehicle
density heat map. The PNGs are reduced to 256 colours so that they stay small.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: Safety and failure event kinds, in the order one is picked for the third shot.
SAFETY = ["los_start", "terrain_violation", "order_failed", "auth_timeout", "zone_enter",
          "battery_depleted", "action_refused", "link_lost"]


def small_png(data: bytes, colours: int = 256) -> bytes:
    from PIL import Image

    img = Image.open(io.BytesIO(data)).convert("RGB")
    out = io.BytesIO()
    img.quantize(colours, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


def shoot(run_dir: Path, out: Path, size=(1120, 680)) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from fleetsim.replay.server import ReplayServer

    name = run_dir.name
    saved = []
    with ReplayServer(run_dir / "replay", "127.0.0.1", 0).start() as srv, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.goto(srv.url)
        page.wait_for_function("() => window.viewer && (window.viewer.ready || "
                               "window.viewer.error)", timeout=60_000)
        if page.evaluate("() => window.viewer.error"):
            raise RuntimeError(page.evaluate("() => window.viewer.error"))
        settle = ("() => new Promise(r => { const f = () => window.viewer.simTime === "
                  "window.viewer.targetTime ? requestAnimationFrame(() => "
                  "requestAnimationFrame(r)) : requestAnimationFrame(f); f(); })")
        end = page.evaluate("() => window.viewer.end")
        big = page.evaluate("() => window.viewer.vehicleCount") > 3000
        for label, t in (("start", 0.0), ("middle", end / 2)):
            if label == "middle" and big:  # a large fleet: the vehicle density heat map
                page.select_option("#heat-mode", "density")
            page.evaluate("(t) => window.viewer.seek(t)", t)
            page.evaluate(settle)
            path = out / f"{name}-{label}.png"
            path.write_bytes(small_png(page.screenshot()))
            saved.append(path)
        if big:
            page.select_option("#heat-mode", "idleness")
        options = page.eval_on_selector_all("#event-filter option",
                                            "os => os.map(o => o.value)")
        kind = next((k for k in SAFETY if f"kind:{k}" in options), None)
        if kind is not None:
            page.select_option("#event-filter", f"kind:{kind}")
            rows = page.locator(".ev")
            rows.nth(min(2, rows.count() - 1)).click()
            page.evaluate(settle)
            path = out / f"{name}-safety.png"
            path.write_bytes(small_png(page.screenshot()))
            saved.append(path)
        browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from fleetsim.errors import FleetsimError

    for run in args.runs:
        try:
            for path in shoot(run, args.out):
                print(f"{path} ({path.stat().st_size / 1000:.0f} kB)")
        except FleetsimError as exc:  # e.g. a run written with outputs.replay: false
            print(f"take.py: error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
