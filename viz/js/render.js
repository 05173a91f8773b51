// Drawing: a base canvas (terrain, heat map, water, roads, mission areas, zones, sites,
// targets),
// redrawn only when something on it changes, and an overlay canvas whose vehicles and
// trails are written as pixels straight into an ImageData every frame.

import { NO_STATE } from "./player.js";
import { activeOrbits, drawOrbits, drawTargetTracks, loiterOrbits } from "./realism.js";

// Colours by leg kind (LEG_KINDS order in the manifest is looked up by name).
export const STATE_COLORS = {
  ground: "#8d949c", takeoff: "#8fd8ff", move: "#22e4ff", hold: "#ffd84a",
  return: "#ff8a3d", land: "#c7a6ff", wait_pad: "#ff5ce1", charge: "#6dff7a",
  wait_load: "#ff9ecf", load: "#f5b041", unload: "#7dffd0", docked: "#5d6d7e",
};
// Site markers by kind (see drawSite), for the map and the legend.
export const SITE_STYLES = {
  base: { fill: "#ffffff", label: true },
  depot: { fill: "#ffa43a", label: true },
  ground_station: { fill: "#b48cff", label: true },
  launch_point: { fill: "#9dff6b", label: true },
  customer: { fill: "#4dd0e1", label: false },
};
export const ORDER_COLORS = { waiting: "#ffb020", carried: "#ffffff", delivered: "#5cff8a",
  failed: "#ff4040" };
export const ROAD_COLORS = { open: "rgba(200,206,214,0.6)", closed: "#ff3030" };
const WATER_RGBA = [30, 84, 150, 215];
// Vehicle glyph by domain: 0 round (air), 1 square (ground), 2 diamond (sea).
const DOMAIN_SHAPE = { air: 0, ground: 1, sea: 2 };
export const TYPE_COLORS = ["#22e4ff", "#ffd84a", "#ff6b9a", "#9dff6b", "#c7a6ff", "#ff9f43",
  "#4dd0e1", "#f06292"];
const ZONE_COLORS = { no_fly: [235, 64, 52], restricted: [255, 170, 0] };
export const ZONE_RGB = ZONE_COLORS;
// A perceptually uniform, opaque colour map (viridis-like): anchors interpolated
// linearly in RGB, dark purple (0) to yellow (1).
const RAMP = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962",
  "#addc30", "#fde725"].map(hexRGB);
export function rampRGB(f) {
  const x = Math.min(Math.max(f, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2), u = x - i;
  return [0, 1, 2].map((k) => Math.round(RAMP[i][k] + u * (RAMP[i + 1][k] - RAMP[i][k])));
}
const MASKED = [58, 63, 70];
const DENSITY_PX = 12; // vehicle density: cells of 12 x 12 screen pixels // no-fly cells of the heat map
// Vehicles counted at a site (its badge): on the ground, and taking off or landing there.
const GROUND_KINDS = ["ground", "charge", "wait_pad", "takeoff", "land"];
const BADGE_LABELS = ["parked", "charging", "queued", "taking off", "landing"];
const BADGE_KEYS = ["parked", "charging", "queued", "takingOff", "landing"];
const PAD_SITES = new Set(["base", "depot", "launch_point"]);

function hexRGB(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
// A colour as the Uint32 of an RGBA pixel on a little-endian machine.
function pixel(r, g, b, a = 255) {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export class Renderer {
  constructor(bundle, player, baseCanvas, overlayCanvas) {
    this.bundle = bundle;
    this.player = player;
    this.baseCanvas = baseCanvas;
    this.overlay = overlayCanvas;
    this.bctx = baseCanvas.getContext("2d");
    this.octx = overlayCanvas.getContext("2d");
    this.W = 0;
    this.H = 0;
    this.view = { cx: 0, cy: 0, scale: 1 }; // world centre (m), pixels per metre
    this.layers = { terrain: true, heat: true, missions: true, zones: true, bases: true,
      targets: true, trails: true, vehicles: true };
    // Layers of logistics bundles, only when the bundle has them.
    if (bundle.water) this.layers.water = true;
    if (bundle.roads) this.layers.roads = true;
    if (bundle.orders) this.layers.orders = true;
    this.drawn = { roads: 0, closedRoads: 0, orders: 0, flashes: 0, sites: {}, vehicles: 0 };
    this.heatMode = "idleness"; // or "coverage"
    this.colorBy = "state"; // or "type"
    this.baseDirty = true;
    this.baseKey = "";
    this.selected = -1;
    this.hovered = -1;
    const n = player.n;
    this.sx = new Float32Array(n).fill(NaN);
    this.sy = new Float32Array(n).fill(NaN);
    const kinds = bundle.manifest.leg_kinds;
    this.kindIndex = Object.fromEntries(kinds.map((k, i) => [k, i]));
    this.statePixels = new Uint32Array(256).fill(pixel(255, 255, 255));
    this.stateRGB = kinds.map((k) => hexRGB(STATE_COLORS[k] || "#ffffff"));
    kinds.forEach((k, i) => { this.statePixels[i] = pixel(...this.stateRGB[i]); });
    const types = bundle.manifest.vehicle_types;
    this.typeRGB = types.map((_, i) => hexRGB(TYPE_COLORS[i % TYPE_COLORS.length]));
    this.typePixels = new Uint32Array(this.typeRGB.map((c) => pixel(...c)));
    this.outline = pixel(10, 14, 20, 255);
    this.shape = Uint8Array.from(bundle.vehicles.type,
      (ty) => DOMAIN_SHAPE[(types[ty] || {}).domain] || 0);
    this.docked = this.kindIndex.docked ?? -1;
    this.orderPixels = Object.fromEntries(Object.entries(ORDER_COLORS)
      .map(([k, c]) => [k, pixel(...hexRGB(c))]));
    this.prepareZones();
    this.orbits = loiterOrbits(bundle); // fixed-wing loiters, by vehicle
    this.orbitsNow = [];
    this.buildHeat();
    this.buildWater();
    this.losPairs = [];
    this.siteCounts = {};
    this.heatFixed = null;
    this.densityMax = 1;
  }

  /** Intervals of the run's losses of separation (los_start .. matching los_end). */
  losEvents(kinds) {
    const ev = this.bundle.events, ks = kinds.indexOf("los_start"), ke = kinds.indexOf("los_end");
    this.los = [];
    if (ks < 0) return;
    const index = new Map();
    this.bundle.vehicles.id.forEach((id, i) => index.set(id, i));
    const open = new Map();
    for (let i = 0; i < ev.time_s.length; i++) {
      const k = ev.kind[i];
      if (k !== ks && k !== ke) continue;
      // vehicle: the lower of the pair (an index); target: the other one's recorded id.
      const a = ev.vehicle[i], b = index.has(ev.target[i]) ? index.get(ev.target[i]) : -1;
      const key = `${a}:${b}`;
      if (k === ks) {
        const rec = { a, b, t0: ev.time_s[i], t1: Infinity };
        this.los.push(rec);
        open.set(key, rec);
      } else if (open.has(key)) {
        open.get(key).t1 = ev.time_s[i];
        open.delete(key);
      }
    }
  }

  /** Pairs (vehicle indices) in a loss of separation at t. */
  losAt(t) {
    const out = [];
    for (const r of this.los || []) if (r.t0 <= t && t < r.t1 && r.a >= 0 && r.b >= 0) out.push([r.a, r.b]);
    return out;
  }

  /** Centre the view on vehicle v (follow mode). */
  centerOn(v) {
    const x = this.player.x[v], y = this.player.y[v];
    if (!(x === x) || !(y === y)) return;
    if (x !== this.view.cx || y !== this.view.cy) {
      this.view.cx = x; this.view.cy = y; this.baseDirty = true;
    }
  }

  /** Bring vehicle v into view if it is off screen (zoomed in to at least 1 px / 20 m). */
  reveal(v) {
    const x = this.player.x[v], y = this.player.y[v];
    if (!(x === x) || !(y === y)) return;
    const [px, py] = this.worldToScreen(x, y);
    if (px >= 20 && py >= 20 && px <= this.W - 20 && py <= this.H - 20) return;
    this.view.cx = x; this.view.cy = y;
    this.baseDirty = true;
  }

  /** Terrain height (m) at world (x, y), bilinear; NaN outside the grid. */
  elevationAt(x, y) {
    const hm = this.bundle.heights, e = this.bundle.manifest.layers.terrain.heights;
    if (!hm || !e) return NaN;
    const fx = (x - e.origin_m[0]) / e.spacing_m, fy = (y - e.origin_m[1]) / e.spacing_m;
    if (fx < 0 || fy < 0 || fx > e.nx - 1 || fy > e.ny - 1) return NaN;
    const i = Math.min(Math.floor(fx), e.nx - 2), j = Math.min(Math.floor(fy), e.ny - 2);
    if (i < 0 || j < 0) return hm[0];
    const u = fx - i, w = fy - j, n = e.nx;
    return (1 - w) * ((1 - u) * hm[j * n + i] + u * hm[j * n + i + 1]) +
      w * ((1 - u) * hm[(j + 1) * n + i] + u * hm[(j + 1) * n + i + 1]);
  }

  // ------------------------------------------------------------------ view

  resize(w, h) {
    w = Math.max(1, Math.floor(w));
    h = Math.max(1, Math.floor(h));
    if (w === this.W && h === this.H) return false;
    this.W = w; this.H = h;
    for (const c of [this.baseCanvas, this.overlay]) { c.width = w; c.height = h; }
    this.image = this.octx.createImageData(w, h);
    this.pix = new Uint32Array(this.image.data.buffer);
    this.baseDirty = true;
    return true;
  }

  fit() {
    const [x0, y0, x1, y1] = this.bundle.manifest.world.bounds_m;
    const w = Math.max(x1 - x0, 1), h = Math.max(y1 - y0, 1);
    this.view.scale = 0.94 * Math.min(this.W / w, this.H / h);
    this.view.cx = (x0 + x1) / 2;
    this.view.cy = (y0 + y1) / 2;
    this.baseDirty = true;
  }

  worldToScreen(x, y) {
    const v = this.view;
    return [(x - v.cx) * v.scale + this.W / 2, this.H / 2 - (y - v.cy) * v.scale];
  }

  screenToWorld(px, py) {
    const v = this.view;
    return [(px - this.W / 2) / v.scale + v.cx, v.cy - (py - this.H / 2) / v.scale];
  }

  pan(dx, dy) {
    this.view.cx -= dx / this.view.scale;
    this.view.cy += dy / this.view.scale;
    this.baseDirty = true;
  }

  zoomAt(px, py, factor) {
    const [wx, wy] = this.screenToWorld(px, py);
    const v = this.view;
    v.scale = Math.min(Math.max(v.scale * factor, 1e-5), 1e3);
    v.cx = wx - (px - this.W / 2) / v.scale;
    v.cy = wy + (py - this.H / 2) / v.scale;
    this.baseDirty = true;
  }

  // ------------------------------------------------------------------ heat map

  buildHeat() {
    const cov = this.bundle.manifest.layers.coverage;
    const g = cov.grid;
    this.heatGrid = g;
    this.heatTimes = cov.times_s;
    this.heatCanvas = document.createElement("canvas");
    this.heatCanvas.width = Math.max(g.nx, 1);
    this.heatCanvas.height = Math.max(g.ny, 1);
    this.heatImage = this.heatCanvas.getContext("2d").createImageData(this.heatCanvas.width,
      this.heatCanvas.height);
    const idle = this.bundle.coverage.idleness;
    let maxCode = 1;
    for (let i = 0; i < idle.length; i++) {
      const c = idle[i];
      if (c !== cov.idleness_outside && c > maxCode) maxCode = c;
    }
    this.heatMaxCode = maxCode;
    this.heatScaleS = cov.idleness_scale_s;
    // Cells whose centre is in a no-fly zone, per zone (masked while it is active).
    this.heatNoFly = this.zoneFeatures.map((z) => {
      if (z.props.kind !== "no_fly") return null;
      const m = new Uint8Array(g.nx * g.ny);
      let any = false;
      for (let r = 0; r < g.ny; r++) {
        for (let c = 0; c < g.nx; c++) {
          if (insidePolys(z.polys, g.x0_m + (c + 0.5) * g.cell_m, g.y0_m + (r + 0.5) * g.cell_m)) {
            m[r * g.nx + c] = 1; any = true;
          }
        }
      }
      return any ? m : null;
    });
    this.setHeatScale(null);
  }

  /** Idleness colour scale: null (the run's own maximum) or a fixed maximum (s). */
  setHeatScale(maxS) {
    const cov = this.bundle.manifest.layers.coverage;
    this.heatFixed = maxS && maxS > 0 ? maxS : null;
    this.heatMaxS = this.heatFixed || this.heatMaxCode * cov.idleness_scale_s;
    const maxCode = this.heatMaxS / cov.idleness_scale_s;
    this.heatLUT = new Uint32Array(256);
    for (let c = 0; c < 256; c++) this.heatLUT[c] = pixel(...rampRGB(c / maxCode));
    this.heatLUT[cov.idleness_outside] = 0;
    this.heatKey = "";
    this.baseDirty = true;
  }

  heatGradientCSS() {
    const stops = [];
    for (let i = 0; i <= 8; i++) stops.push(`rgb(${rampRGB(i / 8).join(",")})`);
    return `linear-gradient(90deg, ${stops.join(", ")})`;
  }

  /** The heat map's state, for tests: mode, scale, and the colour of a world point. */
  heatInfo() {
    return { mode: this.heatMode, maxS: this.heatMaxS, fixed: this.heatFixed,
      densityMax: this.densityMax, ramp0: rampRGB(0), ramp1: rampRGB(1), masked: MASKED };
  }

  heatBucket(t) {
    const ts = this.heatTimes;
    let lo = 0, hi = ts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ts[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  updateHeat(t) {
    const g = this.heatGrid;
    const n = g.nx * g.ny;
    if (this.heatMode === "density") return this.updateDensity(t);
    const active = this.activeZones(t);
    const zkey = active.map((a, i) => (a && this.heatNoFly[i] ? 1 : 0)).join("");
    const key = (this.heatMode === "idleness" ? `i${this.heatBucket(t)}` : `c${t}`) + zkey;
    if (key === this.heatKey) return false;
    const px = new Uint32Array(this.heatImage.data.buffer);
    // Image row 0 is the north edge; raster row 0 is the south edge.
    if (this.heatMode === "idleness") {
      const idle = this.bundle.coverage.idleness;
      const base = this.heatBucket(t) * n;
      for (let r = 0; r < g.ny; r++) {
        const src = base + r * g.nx, dst = (g.ny - 1 - r) * g.nx;
        for (let c = 0; c < g.nx; c++) px[dst + c] = this.heatLUT[idle[src + c]];
      }
    } else {
      const first = this.bundle.coverage.first_covered_s;
      const idle = this.bundle.coverage.idleness;
      const seen = pixel(...rampRGB(1)), unseen = pixel(...rampRGB(0));
      const outside = this.bundle.manifest.layers.coverage.idleness_outside;
      for (let r = 0; r < g.ny; r++) {
        const src = r * g.nx, dst = (g.ny - 1 - r) * g.nx;
        for (let c = 0; c < g.nx; c++) {
          const i = src + c;
          px[dst + c] = idle[i] === outside ? 0 : (first[i] <= t ? seen : unseen);
        }
      }
    }
    // No-fly cells (while their zone is active): masked, neither seen nor unseen.
    const masked = pixel(...MASKED);
    active.forEach((on, zi) => {
      const m = this.heatNoFly[zi];
      if (!on || !m) return;
      for (let r = 0; r < g.ny; r++) {
        const src = r * g.nx, dst = (g.ny - 1 - r) * g.nx;
        for (let c = 0; c < g.nx; c++) if (m[src + c] && px[dst + c] !== 0) px[dst + c] = masked;
      }
    });
    this.heatCanvas.getContext("2d").putImageData(this.heatImage, 0, 0);
    this.heatKey = key;
    return true;
  }

  /** Vehicle density: vehicles per screen cell (DENSITY_PX square; airborne and
   * grounded alike), log-scaled on the colour map; empty cells transparent. */
  updateDensity(t) {
    const v0 = this.view;
    const key = `d${t}:${this.player.t}:${v0.cx}:${v0.cy}:${v0.scale}:${this.W}:${this.H}`;
    if (key === this.heatKey) return false;
    const cp = DENSITY_PX;
    const nx = Math.max(1, Math.ceil(this.W / cp)), ny = Math.max(1, Math.ceil(this.H / cp));
    if (!this.densityCanvas || this.densityCanvas.width !== nx || this.densityCanvas.height !== ny) {
      this.densityCanvas = document.createElement("canvas");
      this.densityCanvas.width = nx; this.densityCanvas.height = ny;
      this.densityImage = this.densityCanvas.getContext("2d").createImageData(nx, ny);
      this.densityCounts = new Uint32Array(nx * ny);
    }
    const cnt = this.densityCounts, p = this.player;
    const W2 = this.W / 2, H2 = this.H / 2, s = v0.scale;
    cnt.fill(0);
    let max = 1;
    for (let v = 0; v < p.n; v++) {
      const x = p.x[v], y = p.y[v];
      if (!(x === x) || p.kind[v] === this.docked) continue;
      const c = Math.floor(((x - v0.cx) * s + W2) / cp), r = Math.floor((H2 - (y - v0.cy) * s) / cp);
      if (c < 0 || r < 0 || c >= nx || r >= ny) continue;
      const i = r * nx + c;
      if (++cnt[i] > max) max = cnt[i];
    }
    this.densityMax = max;
    const px = new Uint32Array(this.densityImage.data.buffer), lm = Math.log1p(max);
    for (let i = 0; i < cnt.length; i++) {
      px[i] = cnt[i] ? pixel(...rampRGB(Math.log1p(cnt[i]) / lm)) : 0;
    }
    this.densityCanvas.getContext("2d").putImageData(this.densityImage, 0, 0);
    this.heatKey = key;
    return true;
  }

  // ------------------------------------------------------------------ water, roads, orders

  buildWater() {
    this.waterCanvas = null;
    const entry = this.bundle.manifest.layers.water;
    if (!entry || !this.bundle.water) return;
    const g = entry.grid, wet = this.bundle.water.wet;
    const c = document.createElement("canvas");
    c.width = Math.max(g.nx, 1);
    c.height = Math.max(g.ny, 1);
    const img = c.getContext("2d").createImageData(c.width, c.height);
    const px = new Uint32Array(img.data.buffer), on = pixel(...WATER_RGBA);
    // Image row 0 is the north edge; grid row 0 is the south edge.
    for (let r = 0; r < g.ny; r++) {
      for (let col = 0; col < g.nx; col++) {
        if (wet[r * g.nx + col]) px[(g.ny - 1 - r) * g.nx + col] = on;
      }
    }
    c.getContext("2d").putImageData(img, 0, 0);
    this.waterCanvas = c;
  }

  /** Roads closed at time t (closed_s <= t). */
  closedRoadsAt(t) {
    const cs = this.bundle.roads ? this.bundle.roads.closed_s : [];
    let n = 0;
    for (let i = 0; i < cs.length; i++) if (cs[i] <= t) n++;
    return n;
  }

  drawRoads(ctx, t) {
    const r = this.bundle.roads, n = r.x0_m.length;
    const v = this.view, W2 = this.W / 2, H2 = this.H / 2, s = v.scale;
    const W = this.W, H = this.H;
    let open = 0, closed = 0;
    const closedList = [];
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const ax = (r.x0_m[i] - v.cx) * s + W2, ay = H2 - (r.y0_m[i] - v.cy) * s;
      const bx = (r.x1_m[i] - v.cx) * s + W2, by = H2 - (r.y1_m[i] - v.cy) * s;
      if (Math.max(ax, bx) < 0 || Math.min(ax, bx) > W || Math.max(ay, by) < 0 ||
          Math.min(ay, by) > H) continue;
      if (r.closed_s[i] <= t) { closedList.push(ax, ay, bx, by); closed++; continue; }
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
      open++;
    }
    ctx.lineWidth = 1;
    ctx.strokeStyle = ROAD_COLORS.open;
    ctx.stroke();
    if (closed) {
      ctx.beginPath();
      for (let k = 0; k < closedList.length; k += 4) {
        ctx.moveTo(closedList[k], closedList[k + 1]);
        ctx.lineTo(closedList[k + 2], closedList[k + 3]);
      }
      ctx.lineWidth = 2.5;
      ctx.setLineDash([5, 4]);
      ctx.strokeStyle = ROAD_COLORS.closed;
      ctx.stroke();
      ctx.setLineDash([]);
    }
    this.drawn.roads = open;
    this.drawn.closedRoads = closed;
  }

  /** Order counts at time t: created, delivered, failed (by then) and pending
   * (created, no outcome yet). */
  orderCounts(t) {
    const o = this.bundle.orders;
    const out = { created: 0, delivered: 0, failed: 0, pending: 0 };
    if (!o) return out;
    const c = o.created_s, oc = o.outcome, os = o.outcome_s;
    for (let i = 0; i < c.length; i++) {
      if (c[i] <= t) out.created++;
      if (os[i] <= t) { if (oc[i] === 1) out.delivered++; else if (oc[i] === 2) out.failed++; }
      else if (c[i] <= t) out.pending++;
    }
    return out;
  }

  /** Pending orders' destinations as small dots (waiting: amber, loaded: white). */
  drawOrders(t) {
    const o = this.bundle.orders, W = this.W, H = this.H, pix = this.pix, v0 = this.view;
    const W2 = W / 2, H2 = H / 2;
    const waiting = this.orderPixels.waiting, carried = this.orderPixels.carried;
    const outline = this.outline;
    const c = o.created_s, os = o.outcome_s, ps = o.picked_s, xs = o.dest_x_m, ys = o.dest_y_m;
    let drawn = 0;
    for (let i = 0; i < c.length; i++) {
      if (!(c[i] <= t) || os[i] <= t) continue;
      const cx = ((xs[i] - v0.cx) * v0.scale + W2) | 0, cy = (H2 - (ys[i] - v0.cy) * v0.scale) | 0;
      if (cx < 2 || cy < 2 || cx >= W - 2 || cy >= H - 2) continue;
      const col = ps[i] <= t ? carried : waiting;
      // A 3x3 dot in a dark 5x5 frame (corners left out).
      for (let dy = -2; dy <= 2; dy++) {
        const row = (cy + dy) * W + cx;
        for (let dx = -2; dx <= 2; dx++) {
          const edge = dx === -2 || dx === 2 || dy === -2 || dy === 2;
          if (edge && (dx === dy || dx === -dy)) continue;
          pix[row + dx] = edge ? outline : col;
        }
      }
      drawn++;
    }
    this.drawn.orders = drawn;
  }

  // ------------------------------------------------------------------ zones, targets

  prepareZones() {
    this.zoneFeatures = (this.bundle.zones.features || []).map((f) => ({
      props: f.properties, polys: f.geometry.coordinates,
      start: f.properties.start_s ?? -Infinity,
      end: f.properties.end_s ?? Infinity,
    }));
    const tg = this.bundle.targets;
    this.targetFirst = (tg.first_detected_s || []).map((v) => (v === null ? Infinity : v));
  }

  activeZones(t) {
    return this.zoneFeatures.map((z) => z.start <= t && t < z.end);
  }

  tracePolys(ctx, polys, begin = true) {
    if (begin) ctx.beginPath();
    for (const poly of polys) {
      for (const ring of poly) {
        ring.forEach(([x, y], i) => {
          const [px, py] = this.worldToScreen(x, y);
          if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
        });
        ctx.closePath();
      }
    }
  }

  // ------------------------------------------------------------------ base layer

  drawBase(t) {
    const active = this.activeZones(t);
    let detected = 0;
    for (const ft of this.targetFirst) if (ft <= t) detected++;
    const heatChanged = this.layers.heat ? this.updateHeat(t) : false;
    const closedRoads = this.bundle.roads ? this.closedRoadsAt(t) : 0;
    const key = `${active.join()}|${detected}|${this.heatKey}|${closedRoads}`;
    if (!this.baseDirty && !heatChanged && key === this.baseKey) return false;
    this.baseKey = key;
    this.baseDirty = false;
    const ctx = this.bctx, b = this.bundle, L = this.layers;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#14181d";
    ctx.fillRect(0, 0, this.W, this.H);
    if (L.terrain) {
      const [x0, y0, x1, y1] = b.manifest.layers.terrain.image_extent_m;
      const [ax, ay] = this.worldToScreen(x0, y1);
      const [bx, by] = this.worldToScreen(x1, y0);
      ctx.imageSmoothingEnabled = true;
      ctx.globalAlpha = 0.9;
      ctx.drawImage(b.terrain, ax, ay, bx - ax, by - ay);
      ctx.globalAlpha = 1;
    }
    if (L.heat && this.heatMode === "density" && this.densityCanvas) {
      const c = this.densityCanvas;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(c, 0, 0, c.width * DENSITY_PX, c.height * DENSITY_PX);
    } else if (L.heat && this.heatGrid.nx > 0) {
      const g = this.heatGrid;
      const [ax, ay] = this.worldToScreen(g.x0_m, g.y0_m + g.ny * g.cell_m);
      const [bx, by] = this.worldToScreen(g.x0_m + g.nx * g.cell_m, g.y0_m);
      // Cells are clipped to the mission areas (a slanted area's edge cells spill over).
      const mis = b.missions.features || [];
      ctx.save();
      if (mis.length) {
        ctx.beginPath();
        for (const f of mis) this.tracePolys(ctx, f.geometry.coordinates, false);
        ctx.clip("evenodd");
      }
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(this.heatCanvas, ax, ay, bx - ax, by - ay);
      ctx.restore();
    }
    if (L.water && this.waterCanvas) {
      const g = b.manifest.layers.water.grid;
      const [ax, ay] = this.worldToScreen(g.x0_m, g.y0_m + g.ny * g.cell_m);
      const [bx, by] = this.worldToScreen(g.x0_m + g.nx * g.cell_m, g.y0_m);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(this.waterCanvas, ax, ay, bx - ax, by - ay);
    }
    this.drawn.roads = 0;
    this.drawn.closedRoads = 0;
    if (L.roads && b.roads) this.drawRoads(ctx, t);
    if (L.missions) {
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "rgba(255,255,255,0.75)";
      ctx.setLineDash([6, 4]);
      for (const f of b.missions.features || []) {
        this.tracePolys(ctx, f.geometry.coordinates);
        ctx.stroke();
      }
      ctx.setLineDash([]);
    }
    if (L.zones) {
      this.zoneFeatures.forEach((z, i) => {
        const [r, g, bl] = ZONE_COLORS[z.props.kind] || [200, 200, 200];
        this.tracePolys(ctx, z.polys);
        if (active[i]) {
          ctx.fillStyle = `rgba(${r},${g},${bl},0.28)`;
          ctx.fill("evenodd");
          ctx.lineWidth = 2;
          ctx.setLineDash([]);
          ctx.strokeStyle = `rgba(${r},${g},${bl},0.95)`;
        } else {
          ctx.lineWidth = 1;
          ctx.setLineDash([4, 4]);
          ctx.strokeStyle = `rgba(${r},${g},${bl},0.55)`;
        }
        ctx.stroke();
        ctx.setLineDash([]);
      });
      // Labels: id and kind at the top of each zone's box.
      ctx.font = "11px 'Liberation Sans', Arial, sans-serif";
      ctx.textBaseline = "bottom";
      this.drawn.zoneLabels = [];
      this.zoneFeatures.forEach((z, i) => {
        const ring = (z.polys[0] || [])[0] || [];
        if (!ring.length) return;
        let xmin = Infinity, xmax = -Infinity, ymax = -Infinity;
        for (const [x, y] of ring) { xmin = Math.min(xmin, x); xmax = Math.max(xmax, x); ymax = Math.max(ymax, y); }
        const [ax, ay] = this.worldToScreen(xmin, ymax);
        const [bx] = this.worldToScreen(xmax, ymax);
        if (bx - ax < 30 || ay < 12 || ay > this.H || bx < 0 || ax > this.W) return;
        const [r, g, bl] = ZONE_COLORS[z.props.kind] || [200, 200, 200];
        const text = `${z.props.id} (${z.props.kind.replace("_", "-")}${active[i] ? "" : ", inactive"})`;
        ctx.lineWidth = 3;
        ctx.strokeStyle = "#10141a";
        ctx.strokeText(text, ax + 3, ay - 2);
        ctx.fillStyle = `rgb(${r},${g},${bl})`;
        ctx.fillText(text, ax + 3, ay - 2);
        this.drawn.zoneLabels.push(text);
      });
      ctx.textBaseline = "middle";
    }
    if (L.targets && !b.targets.vx_mps) { // moving targets: on the overlay (realism.js)
      const tg = b.targets;
      for (let i = 0; i < tg.count; i++) {
        const [px, py] = this.worldToScreen(tg.x_m[i], tg.y_m[i]);
        if (px < -10 || py < -10 || px > this.W + 10 || py > this.H + 10) continue;
        const found = this.targetFirst[i] <= t;
        ctx.beginPath();
        ctx.moveTo(px, py - 5); ctx.lineTo(px + 5, py); ctx.lineTo(px, py + 5); ctx.lineTo(px - 5, py);
        ctx.closePath();
        if (found) { ctx.fillStyle = "#ff3b6b"; ctx.fill(); }
        ctx.lineWidth = 1.5;
        ctx.strokeStyle = found ? "#ffffff" : "#ff3b6b";
        ctx.stroke();
      }
    }
    const drawnSites = {};
    if (L.bases) {
      ctx.font = "12px 'Liberation Sans', Arial, sans-serif";
      ctx.textBaseline = "middle";
      const nCustomers = b.sites.filter((s) => s.kind === "customer").length;
      // Customers first (they may be many), the other sites on top.
      const order = [...b.sites].sort((a, c) => (c.kind === "customer") - (a.kind === "customer"));
      for (const s of order) {
        const [px, py] = this.worldToScreen(s.x_m, s.y_m);
        if (px < -20 || py < -20 || px > this.W + 20 || py > this.H + 20) continue;
        drawSite(ctx, s.kind, px, py);
        drawnSites[s.kind] = (drawnSites[s.kind] || 0) + 1;
        const style = SITE_STYLES[s.kind] || SITE_STYLES.base;
        if (style.label || nCustomers <= 20) {
          ctx.lineWidth = 3;
          ctx.strokeStyle = "#10141a";
          ctx.strokeText(s.id, px + 10, py);
          ctx.fillStyle = "#ffffff";
          ctx.fillText(s.id, px + 10, py);
        }
      }
    }
    this.drawn.sites = drawnSites;
    return true;
  }

  // ------------------------------------------------------------------ overlay (pixels)

  vehiclePixel(v) {
    if (this.colorBy === "type") return this.typePixels[this.bundle.vehicles.type[v]] || this.statePixels[0];
    return this.statePixels[this.player.kind[v]];
  }

  vehicleRGB(v) {
    if (this.colorBy === "type") return this.typeRGB[this.bundle.vehicles.type[v]] || [255, 255, 255];
    return this.stateRGB[this.player.kind[v]] || [255, 255, 255];
  }

  /** A line of pixels from (x0,y0) (alpha a0) to (x1,y1) (alpha a1); keeps the more
   * opaque pixel where trails cross. */
  trailLine(x0, y0, x1, y1, a0, a1, rgb) {
    const W = this.W, H = this.H, pix = this.pix;
    let dx = x1 - x0, dy = y1 - y0;
    const steps = Math.min(Math.ceil(Math.max(Math.abs(dx), Math.abs(dy))), 2000);
    if (steps === 0 || !(steps === steps)) return;
    dx /= steps; dy /= steps;
    const da = (a1 - a0) / steps;
    const rgbBits = (rgb[2] << 16) | (rgb[1] << 8) | rgb[0];
    let x = x0, y = y0, a = a0;
    for (let s = 0; s <= steps; s++, x += dx, y += dy, a += da) {
      const px = x | 0, py = y | 0;
      if (px >= 0 && py >= 0 && px < W && py < H) {
        const i = py * W + px;
        const al = a | 0;
        if ((pix[i] >>> 24) < al) pix[i] = ((al << 24) | rgbBits) >>> 0;
      }
    }
  }

  drawTrails(t, span) {
    const p = this.player, c = p.cols;
    if (!c) return;
    const v0 = this.view, W2 = this.W / 2, H2 = this.H / 2, scale = v0.scale;
    const tMin = t - span;
    const prevCols = this.prevCols; // the previous chunk, if loaded
    for (let v = 0; v < p.n; v++) {
      const k = p.kind[v];
      if (k === NO_STATE || this.isGround(k)) continue;
      let sx = this.sx[v], sy = this.sy[v];
      if (sx !== sx) continue;
      const rgb = this.vehicleRGB(v);
      // Walk back through the keyframes from the current position (world px, py at time pt).
      let pt = t, pwx = p.x[v], pwy = p.y[v];
      let cols = c, a = c.offsets[v], i = p.row[v] - 1;
      for (let guard = 0; guard < 400; guard++) {
        if (i < a) {
          if (cols !== c || !prevCols) break;
          cols = prevCols;
          a = cols.offsets[v];
          i = cols.offsets[v + 1] - 2; // its last row is our first one
          if (i < a) break;
        }
        let tb = cols.t_s[i], wx = cols.x_m[i], wy = cols.y_m[i];
        const last = tb <= tMin;
        if (last) { // the trail ends inside this segment, at tMin
          const f = pt > tb ? (tMin - tb) / (pt - tb) : 0;
          wx += f * (pwx - wx); wy += f * (pwy - wy); tb = tMin;
        }
        const px = (wx - v0.cx) * scale + W2, py = H2 - (wy - v0.cy) * scale;
        this.trailLine(sx, sy, px, py, 200 * (1 - (t - pt) / span), 200 * (1 - (t - tb) / span), rgb);
        if (last) break;
        sx = px; sy = py; pt = tb; pwx = wx; pwy = wy; i--;
      }
    }
  }

  isGround(k) {
    const ki = this.kindIndex;
    return k === ki.ground || k === ki.charge || k === ki.wait_pad || k === ki.docked;
  }

  drawOverlay(t, trailSpan, flashes) {
    const p = this.player, W = this.W, H = this.H, pix = this.pix, v0 = this.view;
    pix.fill(0);
    const W2 = W / 2, H2 = H / 2, SX = this.sx, SY = this.sy;
    for (let v = 0; v < p.n; v++) {
      if (p.kind[v] === NO_STATE) { SX[v] = NaN; SY[v] = NaN; continue; }
      SX[v] = (p.x[v] - v0.cx) * v0.scale + W2;
      SY[v] = H2 - (p.y[v] - v0.cy) * v0.scale;
    }
    if (this.layers.trails && trailSpan > 0) this.drawTrails(t, trailSpan);
    this.drawn.orders = 0;
    if (this.layers.orders && this.bundle.orders) this.drawOrders(t);
    const docked = this.docked;
    let nDrawn = 0;
    if (this.layers.vehicles && p.n > 3000) {
      // Crowded: 3x3 dots without outlines, so the fleet's colours stay readable.
      for (let v = 0; v < p.n; v++) {
        const sx = SX[v];
        if (sx !== sx || p.kind[v] === docked) continue;
        const cx = sx | 0, cy = SY[v] | 0;
        if (cx < 1 || cy < 1 || cx >= W - 1 || cy >= H - 1) continue;
        nDrawn++;
        const col = this.vehiclePixel(v);
        let i = (cy - 1) * W + cx;
        pix[i - 1] = col; pix[i] = col; pix[i + 1] = col;
        i += W;
        pix[i - 1] = col; pix[i] = col; pix[i + 1] = col;
        i += W;
        pix[i - 1] = col; pix[i] = col; pix[i + 1] = col;
      }
    } else if (this.layers.vehicles) {
      // Fewer vehicles: glyphs with a dark outline, larger for small fleets: round
      // (air), square (ground), diamond (sea). Docked vehicles ride on their carrier.
      const small = p.n <= 500;
      const stamps = [0, 1, 2].map((shape) => this.stamp(small ? 2.6 : 1.5, small ? 3.7 : 2.3,
        shape));
      const outline = this.outline;
      for (let v = 0; v < p.n; v++) {
        const sx = SX[v];
        if (sx !== sx || p.kind[v] === docked) continue;
        const st = stamps[this.shape[v]], m = st.margin, core = st.core, ring = st.ring;
        const cx = sx | 0, cy = SY[v] | 0;
        if (cx < m || cy < m || cx >= W - m || cy >= H - m) {
          if (cx >= 0 && cy >= 0 && cx < W && cy < H) {
            pix[cy * W + cx] = this.vehiclePixel(v);
            nDrawn++;
          }
          continue;
        }
        nDrawn++;
        const col = this.vehiclePixel(v), c = cy * W + cx;
        for (let k = 0; k < ring.length; k++) pix[c + ring[k]] = outline;
        for (let k = 0; k < core.length; k++) pix[c + core[k]] = col;
      }
    }
    this.drawn.vehicles = nDrawn;
    const ctx = this.octx;
    ctx.putImageData(this.image, 0, 0);
    // Moving targets' tracks and datums, fixed-wing orbits (circles, not chords).
    Object.assign(this.drawn, this.layers.targets
      ? drawTargetTracks(this, ctx, t, this.targetFirst) : { targetTracks: 0, datums: 0 });
    this.orbitsNow = this.layers.vehicles ? activeOrbits(this, this.orbits, t) : [];
    this.drawn.orbits = drawOrbits(this, ctx, this.orbitsNow);
    // A few vector marks on top: detection, delivery and failure flashes, hovered and
    // selected vehicles.
    for (const f of flashes) {
      const [px, py] = this.worldToScreen(f.x, f.y);
      const [r, g, bl] = f.rgb || [255, 59, 107];
      ctx.beginPath();
      ctx.arc(px, py, 6 + 14 * f.age, 0, 2 * Math.PI);
      ctx.lineWidth = 2;
      ctx.strokeStyle = `rgba(${r},${g},${bl},${(1 - f.age).toFixed(3)})`;
      ctx.stroke();
    }
    this.drawn.flashes = flashes.length;
    this.drawLos(ctx, t);
    if (this.selected >= 0 && SX[this.selected] === SX[this.selected]) this.drawTrack(ctx, this.selected, t);
    this.countSites();
    if (this.layers.bases) this.drawBadges(ctx);
    this.drawScaleBar(ctx);
    for (const [v, color, r] of [[this.hovered, "rgba(255,255,255,0.8)", 8], [this.selected, "#ffffff", 10]]) {
      if (v < 0 || !(SX[v] === SX[v])) continue;
      ctx.beginPath();
      ctx.arc(SX[v], SY[v], r, 0, 2 * Math.PI);
      ctx.lineWidth = 2;
      ctx.strokeStyle = color;
      ctx.stroke();
    }
  }

  /** Losses of separation at t: a red line between the pair, while it lasts. */
  drawLos(ctx, t) {
    const pairs = this.losAt(t);
    this.losPairs = pairs;
    if (!pairs.length) return;
    const SX = this.sx, SY = this.sy;
    ctx.beginPath();
    let n = 0;
    for (const [a, b] of pairs) {
      if (!(SX[a] === SX[a]) || !(SX[b] === SX[b])) continue;
      ctx.moveTo(SX[a], SY[a]); ctx.lineTo(SX[b], SY[b]);
      ctx.moveTo(SX[a] + 7, SY[a]); ctx.arc(SX[a], SY[a], 7, 0, 2 * Math.PI);
      ctx.moveTo(SX[b] + 7, SY[b]); ctx.arc(SX[b], SY[b], 7, 0, 2 * Math.PI);
      if (++n > 2000) break;
    }
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#ff2d55";
    ctx.stroke();
    this.drawn.los = n;
  }

  /** The selected vehicle's recorded track: past (solid, this chunk and the one
   * before) and the legs still ahead in this chunk (dashed). */
  drawTrack(ctx, v, t) {
    const p = this.player, c = p.cols;
    if (!c) return;
    const pts = (cols, a, b) => {
      const out = [];
      for (let i = a; i < b; i++) out.push(this.worldToScreen(cols.x_m[i], cols.y_m[i]));
      return out;
    };
    const a = c.offsets[v], b = c.offsets[v + 1], i = p.row[v];
    let past = [];
    if (this.prevCols) past = pts(this.prevCols, this.prevCols.offsets[v], this.prevCols.offsets[v + 1]);
    past = past.concat(pts(c, a, i));
    const here = [this.sx[v], this.sy[v]];
    past.push(here);
    const ahead = [here, ...pts(c, i, b)];
    const line = (list) => {
      ctx.beginPath();
      list.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
    };
    ctx.lineWidth = 3.5;
    ctx.strokeStyle = "rgba(10,14,20,0.8)";
    line(past);
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = "rgba(255,255,255,0.95)";
    line(past);
    ctx.setLineDash([5, 4]);
    ctx.strokeStyle = "rgba(255,255,255,0.8)";
    line(ahead);
    ctx.setLineDash([]);
    this.drawn.track = { past: past.length, ahead: ahead.length };
  }

  /** Vehicles at each site (parked, charging, queued for a pad, taking off, landing): each at
   * its own base when there, otherwise at the nearest base, depot or launch point. */
  countSites() {
    const p = this.player, sites = this.bundle.sites, ki = this.kindIndex;
    const kinds = GROUND_KINDS.map((k) => ki[k] ?? -1);
    if (!this.padSites) {
      this.padSites = sites.filter((s) => PAD_SITES.has(s.kind));
    }
    const counts = new Map();
    const R2 = 150 * 150, home = this.bundle.vehicles.base;
    for (let v = 0; v < p.n; v++) {
      const slot = kinds.indexOf(p.kind[v]);
      if (slot < 0) continue;
      const x = p.x[v], y = p.y[v];
      let site = sites[home[v]];
      if (!site || (site.x_m - x) ** 2 + (site.y_m - y) ** 2 > R2) {
        site = null;
        let best = R2;
        for (const s of this.padSites) {
          const d = (s.x_m - x) ** 2 + (s.y_m - y) ** 2;
          if (d <= best) { best = d; site = s; }
        }
      }
      if (!site) continue;
      let c = counts.get(site);
      if (!c) counts.set(site, c = [0, 0, 0, 0, 0]);
      c[slot]++;
    }
    this.siteCountsBySite = counts;
    const out = {};
    for (const [s, c] of counts) {
      out[s.id] = Object.fromEntries(BADGE_KEYS.map((k, i) => [k, c[i]]));
    }
    this.siteCounts = out;
  }

  /** A badge under each site with vehicles on the ground: parked, charging, queued
   * (in the colours of those states). */
  drawBadges(ctx) {
    ctx.font = "bold 11px 'Liberation Sans', Arial, sans-serif";
    ctx.textBaseline = "middle";
    const cols = GROUND_KINDS.map((k) => STATE_COLORS[k]);
    const labels = BADGE_LABELS;
    // Site names again on top of the vehicles (a crowd at a site covers the base layer's).
    {
      ctx.font = "12px 'Liberation Sans', Arial, sans-serif";
      for (const s of this.padSites) {
        const [px, py] = this.worldToScreen(s.x_m, s.y_m);
        if (px < -40 || py < -40 || px > this.W + 40 || py > this.H + 40) continue;
        drawSite(ctx, s.kind, px, py);
        ctx.lineWidth = 3;
        ctx.strokeStyle = "#10141a";
        ctx.strokeText(s.id, px + 10, py - 1);
        ctx.fillStyle = "#ffffff";
        ctx.fillText(s.id, px + 10, py - 1);
      }
      ctx.font = "bold 11px 'Liberation Sans', Arial, sans-serif";
    }
    for (const [s, c] of this.siteCountsBySite) {
      const [px, py] = this.worldToScreen(s.x_m, s.y_m);
      if (px < -40 || py < -40 || px > this.W + 40 || py > this.H + 40) continue;
      const items = [];
      c.forEach((n, k) => { if (n) items.push([`${n} ${labels[k]}`, cols[k]]); });
      const widths = items.map(([txt]) => ctx.measureText(txt).width);
      const w = widths.reduce((a, b) => a + b, 0) + 8 * items.length + 4;
      const x0 = px + 10, y0 = py + 8;
      ctx.fillStyle = "rgba(16,20,25,0.85)";
      ctx.fillRect(x0, y0, w, 16);
      ctx.strokeStyle = "rgba(255,255,255,0.35)";
      ctx.lineWidth = 1;
      ctx.strokeRect(x0 + 0.5, y0 + 0.5, w - 1, 15);
      let x = x0 + 6;
      items.forEach(([txt, col], k) => {
        ctx.fillStyle = col;
        ctx.fillText(txt, x, y0 + 8.5);
        x += widths[k] + 8;
      });
    }
  }

  /** A scale bar (a round number of metres about 100 px long), top left. */
  drawScaleBar(ctx) {
    const target = 110 / this.view.scale; // metres in ~110 px
    const p = 10 ** Math.floor(Math.log10(target));
    const m = [5, 2, 1].map((k) => k * p).find((v) => v <= target) || p;
    const px = m * this.view.scale;
    const x = 12, y = 22;
    ctx.lineWidth = 4;
    ctx.strokeStyle = "rgba(10,14,20,0.85)";
    ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x, y); ctx.lineTo(x + px, y); ctx.lineTo(x + px, y - 5); ctx.stroke();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    const label = m >= 1000 ? `${m / 1000} km` : `${m} m`;
    ctx.font = "11px 'Liberation Sans', Arial, sans-serif";
    ctx.textBaseline = "bottom";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#10141a";
    ctx.strokeText(label, x + px + 6, y + 2);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(label, x + px + 6, y + 2);
    this.drawn.scaleBar = { metres: m, pixels: px };
  }

  /** Pixel offsets (for the current width) of a glyph's core and outline ring: a
   * round dot (shape 0), a smaller square (1) or a diamond (2). */
  stamp(rCore, rOuter, shape = 0) {
    const key = `${this.W}:${rCore}:${rOuter}:${shape}`;
    this.stampCaches = this.stampCaches || new Map();
    const hit = this.stampCaches.get(key);
    if (hit) return hit;
    // Each shape's distance of (dx, dy) and its core / outer radius in it, sized so
    // the glyphs cover about the same area.
    let dist = Math.hypot, rc = rCore, ro = rOuter;
    if (shape === 1) {
      dist = (dx, dy) => Math.max(Math.abs(dx), Math.abs(dy));
      rc = Math.floor(rCore * 0.85); ro = rc + 1;
    } else if (shape === 2) {
      dist = (dx, dy) => Math.abs(dx) + Math.abs(dy);
      rc = Math.floor(rCore * 1.35); ro = rc + 1;
    }
    const core = [], ring = [], m = Math.ceil(ro);
    for (let dy = -m; dy <= m; dy++) {
      for (let dx = -m; dx <= m; dx++) {
        const d = dist(dx, dy);
        if (d <= rc) core.push(dy * this.W + dx);
        else if (d <= ro) ring.push(dy * this.W + dx);
      }
    }
    if (this.stampCaches.size > 12) this.stampCaches.clear();
    const out = { core: Int32Array.from(core), ring: Int32Array.from(ring), margin: m };
    this.stampCaches.set(key, out);
    return out;
  }

  /** The vehicle drawn nearest to screen point (px, py), within maxDist pixels; -1 if none. */
  pick(px, py, maxDist = 9) {
    let best = -1, bestD = maxDist * maxDist;
    const SX = this.sx, SY = this.sy, K = this.player.kind, docked = this.docked;
    for (let v = 0; v < SX.length; v++) {
      if (K[v] === docked) continue; // riding on its carrier: pick the carrier
      const dx = SX[v] - px, dy = SY[v] - py;
      const d = dx * dx + dy * dy;
      if (d <= bestD) { bestD = d; best = v; }
    }
    return best;
  }
}

/** A site's marker at (px, py): square (base, depot), circle with a cross (ground
 * station), triangle (launch point), small ring (customer). */
export function drawSite(ctx, kind, px, py, scale = 1) {
  const style = SITE_STYLES[kind] || SITE_STYLES.base;
  ctx.fillStyle = style.fill;
  ctx.strokeStyle = "#10141a";
  ctx.lineWidth = 2;
  ctx.beginPath();
  const r = 6 * scale;
  if (kind === "customer") {
    ctx.arc(px, py, 3.5 * scale, 0, 2 * Math.PI);
    ctx.lineWidth = 3;
    ctx.stroke();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = style.fill;
    ctx.stroke();
    return;
  }
  if (kind === "launch_point") {
    ctx.moveTo(px, py - r - 1); ctx.lineTo(px + r + 1, py + r); ctx.lineTo(px - r - 1, py + r);
    ctx.closePath();
    ctx.fill(); ctx.stroke();
    return;
  }
  if (kind === "ground_station") {
    ctx.arc(px, py, r, 0, 2 * Math.PI);
    ctx.fill(); ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(px - r + 2, py); ctx.lineTo(px + r - 2, py);
    ctx.moveTo(px, py - r + 2); ctx.lineTo(px, py + r - 2);
    ctx.lineWidth = 1.5;
    ctx.stroke();
    return;
  }
  ctx.rect(px - r, py - r, 2 * r, 2 * r);
  ctx.fill(); ctx.stroke();
  ctx.fillStyle = "#10141a";
  ctx.fillRect(px - 2 * scale, py - 2 * scale, 4 * scale, 4 * scale);
}

/** Is (x, y) inside a MultiPolygon's coordinates (even-odd over every ring)? */
export function insidePolys(polys, x, y) {
  let inside = false;
  for (const poly of polys) {
    for (const ring of poly) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i], [xj, yj] = ring[j];
        if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
  }
  return inside;
}
