// The fleetsim replay viewer: loads a replay bundle (../FORMAT.md) and plays it.
// Everything is fetched from the bundle's folder on this server; nothing is logged.

import { Bundle, bundleBase } from "./bundle.js";
import { Charts } from "./charts.js";
import { EventList, formatTime } from "./events.js";
import { NO_STATE, Player } from "./player.js";
import { WindBadge, targetPositions } from "./realism.js";
import { ORDER_COLORS, ROAD_COLORS, Renderer, SITE_STYLES, STATE_COLORS, TYPE_COLORS,
  ZONE_RGB, rampRGB } from "./render.js";

const $ = (id) => document.getElementById(id);
// Toggles, in this order; a bundle without roads, water or orders has no such layer.
const LAYER_LABELS = { terrain: "terrain", heat: "heat map", water: "water", roads: "roads",
  missions: "mission areas", zones: "zones", bases: "sites", targets: "targets",
  orders: "orders", trails: "trails", vehicles: "vehicles" };
const PLAY_ICON = '<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M4 2l10 6-10 6z"/></svg>';
const PAUSE_ICON = '<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M3 2h4v12H3zM9 2h4v12H9z"/></svg>';
const AIRBORNE = ["takeoff", "move", "hold", "return", "land"];

const state = {
  ready: false, playing: false, speed: 1, t: 0, drawnT: NaN, frame: 0, fps: 0,
  renderMs: 0, error: null, dirty: true, waitingChunk: -1, follow: false,
};
let bundle, player, renderer, events, charts, wind;
let seekWaiters = [];
let counts = {};
let lastInfo = 0;
let mouse = null;
let pendingReveal = -1;
let lastLegend = null;

function showStatus(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

function fail(err) {
  state.error = String(err && err.message ? err.message : err);
  state.playing = false;
  showStatus(`Cannot show this replay: ${state.error}`, true);
}
window.addEventListener("error", (e) => { fail(e.error || e.message); e.preventDefault(); });
window.addEventListener("unhandledrejection", (e) => { fail(e.reason); e.preventDefault(); });

// ------------------------------------------------------------------ time and chunks

function clampTime(t) {
  return Math.min(Math.max(t, bundle.start), bundle.end);
}

/** Make the player hold the chunk of time t; false while it is still loading. */
function ensureChunk(t) {
  const k = bundle.chunkIndexAt(t);
  if (player.chunkIndex === k) return true;
  const cols = bundle.loaded.get(k);
  if (cols) {
    player.setChunk(k, cols);
    state.waitingChunk = -1;
    return true;
  }
  if (state.waitingChunk !== k) {
    state.waitingChunk = k;
    bundle.chunk(k).then(() => { state.dirty = true; }, fail);
  }
  return false;
}

function seek(t) {
  state.t = clampTime(Number(t));
  state.dirty = true;
  return new Promise((resolve) => seekWaiters.push({ t: state.t, resolve }));
}

function setPlaying(on) {
  if (on && state.t >= bundle.end) seek(bundle.start);
  state.playing = !!on;
  const btn = $("play");
  btn.innerHTML = state.playing ? PAUSE_ICON : PLAY_ICON;
  btn.setAttribute("aria-label", state.playing ? "pause" : "play");
  btn.setAttribute("aria-pressed", String(state.playing));
}

/** Trail length (simulated seconds): two seconds of playback, within 30 s .. 600 s
 * (200 s for large fleets, whose trails cost the most pixels). */
function trailSpan() {
  return Math.min(bundle.n > 3000 ? 200 : 600, Math.max(30, state.speed * 2));
}

const FLASH_RGB = { detection: [255, 59, 107], delivered: [92, 255, 138], order_failed: [255, 64, 64] };

/** Rings where something just happened: detections (targets layer), deliveries and
 * failed orders (orders layer; a failure is shown at the order's destination). */
function recentFlashes(t) {
  const out = [];
  const span = Math.max(10, state.speed * 1.5);
  const ev = bundle.events, T = ev.time_s, kind = ev.kind;
  const want = new Map();
  if (renderer.layers.targets) want.set(events.kinds.indexOf("detection"), "detection");
  if (renderer.layers.orders) {
    want.set(events.kinds.indexOf("delivered"), "delivered");
    want.set(events.kinds.indexOf("order_failed"), "order_failed");
  }
  want.delete(-1);
  if (!want.size) return out;
  // Last event at or before t, then back while within the span.
  let lo = 0, hi = T.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (T[m] <= t) lo = m + 1; else hi = m; }
  for (let i = lo - 1; i >= 0 && T[i] > t - span && out.length < 200; i--) {
    const k = want.get(kind[i]);
    if (!k) continue;
    let x = ev.x_m[i], y = ev.y_m[i];
    const o = bundle.orders;
    if (k !== "detection" && o && ev.target[i] >= 0 && ev.target[i] < o.dest_x_m.length) {
      x = o.dest_x_m[ev.target[i]]; y = o.dest_y_m[ev.target[i]];
    }
    if (x === x && y === y) out.push({ x, y, age: (t - T[i]) / span, kind: k, rgb: FLASH_RGB[k] });
  }
  return out;
}

// ------------------------------------------------------------------ frame loop

let last = 0, fpsFrames = 0, fpsSince = 0, renderAcc = 0;

function frame(now) {
  requestAnimationFrame(frame);
  if (state.error) return;
  const dt = last ? Math.min((now - last) / 1000, 0.25) : 0;
  last = now;
  if (state.playing) {
    let next = state.t + dt * state.speed;
    if (next >= bundle.end) { next = bundle.end; setPlaying(false); }
    // Do not run past a chunk that is not loaded yet: hold until it is.
    const k = bundle.chunkIndexAt(next);
    if (k === player.chunkIndex || bundle.loaded.has(k)) state.t = next;
    else ensureChunk(next);
    state.dirty = true;
    // Prefetch the next chunk in the second half of this one.
    const c = bundle.manifest.chunks[player.chunkIndex];
    if (c && player.chunkIndex + 1 < bundle.manifest.chunks.length &&
        state.t > (c.t0_s + c.t1_s) / 2) bundle.chunk(player.chunkIndex + 1).catch(fail);
  }
  if (state.dirty || renderer.baseDirty) {
    const t = state.t;
    if (ensureChunk(t)) {
      const t0 = performance.now();
      renderer.prevCols = bundle.loaded.get(player.chunkIndex - 1) || null;
      player.update(t);
      if (state.follow && renderer.selected >= 0) renderer.centerOn(renderer.selected);
      if (pendingReveal >= 0) { renderer.reveal(pendingReveal); pendingReveal = -1; }
      renderer.drawBase(t);
      renderer.drawOverlay(t, trailSpan(), recentFlashes(t));
      wind.update(t);
      state.drawnT = t;
      state.dirty = false;
      renderAcc += performance.now() - t0;
      state.frame++;
      fpsFrames++;
      updatePanels(now);
      // Settle the seeks this frame shows (and any overtaken by a later seek).
      const done = seekWaiters.filter((w) => w.t === t || w.t !== state.t);
      seekWaiters = seekWaiters.filter((w) => !done.includes(w));
      for (const w of done) w.resolve(t);
    }
  }
  if (now - fpsSince >= 500) {
    const secs = (now - fpsSince) / 1000;
    state.fps = fpsSince ? fpsFrames / secs : 0;
    state.renderMs = fpsFrames ? renderAcc / fpsFrames : 0;
    fpsFrames = 0; renderAcc = 0; fpsSince = now;
    $("fps").textContent = state.playing ? `${state.fps.toFixed(0)} fps` : "";
  }
}

// ------------------------------------------------------------------ panels

function updatePanels(now) {
  const t = state.t;
  $("clock").textContent = `${formatTime(t)} / ${formatTime(bundle.end)}`;
  const tl = $("timeline");
  if (document.activeElement !== tl || state.playing) tl.value = String(t);
  const kinds = bundle.manifest.leg_kinds, kc = player.kindCount;
  const by = Object.fromEntries(kinds.map((k, i) => [k, kc[i]]));
  const active = AIRBORNE.reduce((s, k) => s + (by[k] || 0), 0);
  counts = {
    active, airborne: active,
    returning: by.return || 0, charging: by.charge || 0, queued: by.wait_pad || 0,
    ground: by.ground || 0,
  };
  let found = 0;
  for (const f of renderer.targetFirst) if (f <= t) found++;
  counts.detected = found;
  const items = [["airborne", counts.active], ["returning", counts.returning],
    ["charging", counts.charging], ["queued", counts.queued], ["on ground", counts.ground]];
  if (bundle.targets.count) items.push(["targets found", `${found}/${bundle.targets.count}`]);
  if (bundle.orders) {
    const oc = renderer.orderCounts(t);
    Object.assign(counts, { ordersCreated: oc.created, ordersDelivered: oc.delivered,
      ordersFailed: oc.failed, ordersPending: oc.pending });
    items.push(["orders", oc.created], ["delivered", oc.delivered], ["failed", oc.failed],
      ["pending", oc.pending]);
  }
  $("counts").innerHTML = items.map(([k, v]) => `<span>${k} <b>${v}</b></span>`).join("");
  events.follow(t);
  charts.draw(t);
  counts.sites = renderer.siteCounts;
  // A hovered vehicle that left (landed out of sight, or its legs ended) loses its tooltip.
  if (renderer.hovered >= 0 && !(renderer.sx[renderer.hovered] === renderer.sx[renderer.hovered])) {
    renderer.hovered = -1;
    $("tooltip").hidden = true;
  }
  if (now - lastInfo > 100 || !state.playing) {
    lastInfo = now;
    showVehicle();
    updateLegend();
    if (mouse && renderer.hovered >= 0) {
      // Keep the tooltip only while the pointer is still on the vehicle.
      const v = renderer.pick(mouse.x, mouse.y);
      if (v !== renderer.hovered) { renderer.hovered = v; }
      showTooltip(renderer.hovered, mouse.x, mouse.y);
    }
  }
  scheduleHash();
}

function vehicleFacts(v) {
  const m = bundle.manifest, veh = bundle.vehicles;
  const type = m.vehicle_types[veh.type[v]] || { id: "?" };
  const k = player.kind[v];
  const cap = veh.battery_wh[v];
  const bat = player.battery[v];
  const sites = bundle.sites;
  const carrier = veh.carrier ? veh.carrier[v] : -1;
  return {
    id: veh.id[v], type: type.id, domain: type.domain || "", base: (sites[veh.base[v]] || {}).id || "",
    carrier: carrier >= 0 ? veh.id[carrier] : null,
    payloadKg: veh.payload_kg ? veh.payload_kg[v] : NaN,
    state: k === NO_STATE ? "-" : m.leg_kinds[k], sensing: !!player.sensing[v],
    battery: bat, batteryPct: cap > 0 ? (100 * bat) / cap : NaN,
    x: player.x[v], y: player.y[v], z: player.z[v],
  };
}

function showVehicle() {
  const v = renderer.selected >= 0 ? renderer.selected : renderer.hovered;
  const box = $("vehicle-info");
  if (v < 0) { box.className = "muted"; box.textContent = "hover or click a vehicle"; return; }
  const f = vehicleFacts(v);
  box.className = "";
  const rows = [["vehicle", `v${f.id}${renderer.selected === v ? " (selected)" : ""}`],
    ["type", `${f.type}${f.domain ? ` (${f.domain})` : ""}`], ["base", f.base],
    ...(f.carrier !== null ? [["carrier", `v${f.carrier}`]] : []),
    ...(f.payloadKg > 0 ? [["payload", `${f.payloadKg.toFixed(1)} kg`]] : []),
    ["state", `${f.state}${f.sensing ? ", sensing" : ""}`],
    ["battery", `${f.battery.toFixed(1)} Wh (${f.batteryPct.toFixed(0)} %)`],
    ["position", `${f.x.toFixed(0)}, ${f.y.toFixed(0)} m`], ["altitude", `${f.z.toFixed(0)} m`]];
  const table = document.createElement("table");
  for (const [k, val] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = val;
  }
  box.replaceChildren(table);
}

function showTooltip(v, x, y) {
  const tip = $("tooltip");
  if (v < 0) { tip.hidden = true; return; }
  const f = vehicleFacts(v);
  tip.replaceChildren();
  const head = document.createElement("b");
  head.textContent = `v${f.id}`;
  tip.append(head, ` ${f.type} · ${f.state}`, document.createElement("br"),
    `battery ${f.battery.toFixed(1)} Wh (${f.batteryPct.toFixed(0)} %)`);
  tip.hidden = false;
  const map = $("map");
  const left = Math.min(x + 14, map.clientWidth - tip.offsetWidth - 4);
  const top = Math.min(y + 14, map.clientHeight - tip.offsetHeight - 4);
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${Math.max(0, top)}px`;
}

function updateLegend() {
  const lg = $("legend");
  const parts = [];
  const L = renderer.layers, m = bundle.manifest;
  if (L.vehicles || L.trails) {
    if (renderer.colorBy === "state") {
      // Only the states that occur in the run (older bundles: every state).
      const present = m.leg_kinds_present || m.leg_kinds;
      for (const k of present) {
        if (k === "docked") continue; // drawn with its carrier
        parts.push(`<div><span class="sw" style="background:${STATE_COLORS[k] || "#fff"}"></span>${k}</div>`);
      }
    } else {
      m.vehicle_types.forEach((ty, i) => {
        parts.push(`<div><span class="sw" style="background:${TYPE_COLORS[i % TYPE_COLORS.length]}"></span>${ty.id}</div>`);
      });
    }
  }
  legendLogistics(parts);
  if (L.missions && (bundle.missions.features || []).length) {
    parts.push(`<div><span class="zsw" style="border-color:rgba(255,255,255,0.75);border-style:dashed"></span>mission area</div>`);
  }
  if (L.zones) {
    const kinds = new Map();
    for (const f of bundle.zones.features || []) {
      const k = f.properties.kind;
      const e = kinds.get(k) || { active: false, inactive: false };
      const t = state.t, st = f.properties.start_s ?? -Infinity, en = f.properties.end_s ?? Infinity;
      if (st <= t && t < en) e.active = true; else e.inactive = true;
      kinds.set(k, e);
    }
    for (const [k, e] of kinds) {
      const [r, g, b] = ZONE_RGB[k] || [200, 200, 200];
      const name = k.replace("_", "-");
      if (e.active) parts.push(`<div><span class="zsw" style="border-color:rgb(${r},${g},${b});background:rgba(${r},${g},${b},0.28)"></span>${name} zone</div>`);
      if (e.inactive) parts.push(`<div><span class="zsw" style="border-color:rgba(${r},${g},${b},0.6);border-style:dashed"></span>${name} (inactive)</div>`);
    }
  }
  if (L.targets && bundle.targets.count) {
    const dia = (fill) => SVG(`<path d="M0-5L5 0 0 5-5 0Z" fill="${fill}" stroke="${fill === "none" ? "#ff3b6b" : "#fff"}" stroke-width="1.5"/>`);
    parts.push(`<div>${dia("none")}target not found</div>`, `<div>${dia("#ff3b6b")}target found</div>`);
    if (bundle.targets.vx_mps) {
      parts.push(`<div>${SVG('<path d="M-6 3L6-3" stroke="rgba(255,59,107,0.8)" stroke-width="1.5"/>')}target track</div>`);
    }
  }
  if (L.targets && bundle.targets.datums && bundle.targets.datums.length) {
    parts.push(`<div>${SVG('<circle r="4" fill="none" stroke="#fff" stroke-width="1.5"/><path d="M-6 0H6M0-6V6" stroke="#fff" stroke-width="1.2"/>')}datum (drifting)</div>`);
  }
  if (L.vehicles && renderer.orbitsNow.length) {
    parts.push(`<div>${SVG('<circle r="5" fill="none" stroke="rgba(255,216,74,0.9)" stroke-width="1.5"/>')}loiter orbit</div>`);
  }
  if (renderer.selected >= 0) {
    parts.push(`<div>${SVG('<circle r="5" fill="none" stroke="#fff" stroke-width="1.5"/>')}selected</div>`);
  }
  if (renderer.losPairs && renderer.losPairs.length) {
    parts.push(`<div>${SVG('<path d="M-6 0H6" stroke="#ff2d55" stroke-width="2"/>')}loss of separation</div>`);
  }
  if (L.heat && renderer.heatGrid.nx > 0) {
    if (renderer.heatMode === "idleness") {
      const maxMin = renderer.heatMaxS / 60;
      parts.push(`<div>idleness 0<span class="ramp" style="background:${renderer.heatGradientCSS()}"></span>` +
        `${maxMin >= 10 ? maxMin.toFixed(0) : maxMin.toFixed(1)} min${renderer.heatFixed ? " (fixed)" : ""}` +
        (renderer.heatNoFly.some((m) => m) ?
          ` <span class="sw" style="background:#3a3f46;margin-left:6px"></span>no-fly</div>` : "</div>"));
    } else if (renderer.heatMode === "density") {
      parts.push(`<div>vehicles per cell 1<span class="ramp" style="background:${renderer.heatGradientCSS()}"></span>${renderer.densityMax}</div>`);
    } else {
      parts.push(`<div><span class="sw" style="background:rgb(253,231,37)"></span>covered ` +
        `<span class="sw" style="background:rgb(68,1,84);margin-left:8px"></span>not yet</div>`);
    }
  }
  const html = parts.join("");
  if (html !== lastLegend) { lg.innerHTML = html; lastLegend = html; }
  lg.hidden = !parts.length;
}

const SVG = (body) => `<svg class="glyph" viewBox="-7 -7 14 14" aria-hidden="true">${body}</svg>`;
const OUT = 'stroke="#10141a" stroke-width="2"';

function siteGlyph(kind) {
  const fill = (SITE_STYLES[kind] || SITE_STYLES.base).fill;
  if (kind === "customer") return SVG(`<circle r="3.5" fill="none" stroke="${fill}" stroke-width="1.5"/>`);
  if (kind === "launch_point") return SVG(`<path d="M0-6L6 5H-6Z" fill="${fill}" ${OUT}/>`);
  if (kind === "ground_station") {
    return SVG(`<circle r="5.5" fill="${fill}" ${OUT}/><path d="M-3 0H3M0-3V3" stroke="#10141a" stroke-width="1.5"/>`);
  }
  return SVG(`<rect x="-5.5" y="-5.5" width="11" height="11" fill="${fill}" ${OUT}/><rect x="-2" y="-2" width="4" height="4" fill="#10141a"/>`);
}

/** Legend entries of sites, vehicle shapes, roads and orders (those the bundle has). */
function legendLogistics(parts) {
  const L = renderer.layers;
  const domains = new Set(bundle.manifest.vehicle_types.map((t) => t.domain || "air"));
  if (L.vehicles && (domains.has("ground") || domains.has("sea"))) {
    const dot = 'fill="#dfe6ee" stroke="#10141a" stroke-width="1.5"';
    const shapes = { air: SVG(`<circle r="4" ${dot}/>`), ground: SVG(`<rect x="-3.5" y="-3.5" width="7" height="7" ${dot}/>`),
      sea: SVG(`<path d="M0-5L5 0 0 5-5 0Z" ${dot}/>`) };
    for (const d of ["air", "ground", "sea"]) if (domains.has(d)) parts.push(`<div>${shapes[d]}${d}</div>`);
  }
  if (L.bases) {
    const kinds = [...new Set(bundle.sites.map((s) => s.kind))];
    if (kinds.length > 1 || kinds[0] !== "base") {
      for (const k of kinds) parts.push(`<div>${siteGlyph(k)}${k.replace("_", " ")}</div>`);
    }
  }
  if (L.roads) {
    parts.push(`<div>${SVG(`<path d="M-6 0H6" stroke="${ROAD_COLORS.open}" stroke-width="1.5"/>`)}road</div>`);
    if (bundle.manifest.layers.roads.closed) {
      parts.push(`<div>${SVG(`<path d="M-6 0H6" stroke="${ROAD_COLORS.closed}" stroke-width="2.5" stroke-dasharray="4 2"/>`)}closed road</div>`);
    }
  }
  if (L.orders) {
    const sq = (c) => SVG(`<rect x="-2.5" y="-2.5" width="5" height="5" fill="${c}" stroke="#10141a" stroke-width="1"/>`);
    parts.push(`<div>${sq(ORDER_COLORS.waiting)}order waiting</div>`,
      `<div>${sq(ORDER_COLORS.carried)}order loaded</div>`,
      `<div>${SVG(`<circle r="4.5" fill="none" stroke="${ORDER_COLORS.delivered}" stroke-width="2"/>`)}delivered</div>`);
    if (bundle.manifest.layers.orders.failed) {
      parts.push(`<div>${SVG(`<circle r="4.5" fill="none" stroke="${ORDER_COLORS.failed}" stroke-width="2"/>`)}failed</div>`);
    }
  }
}

// ------------------------------------------------------------------ controls

function pickEvent(i) {
  if (i < 0) return;
  const v = bundle.events.vehicle[i];
  if (v >= 0) {
    renderer.selected = v;
    // Bring the selected vehicle into view once it is drawn at the event's time.
    pendingReveal = v;
  }
  updateLegend();
  return seek(bundle.events.time_s[i]);
}

function bindControls() {
  $("play").addEventListener("click", () => setPlaying(!state.playing));
  $("prev-event").addEventListener("click", () => pickEvent(events.step(state.t, -1)));
  $("next-event").addEventListener("click", () => pickEvent(events.step(state.t, +1)));
  $("speed").addEventListener("change", (e) => {
    state.speed = Number(e.target.value); state.dirty = true;
    e.target.blur(); // so that keys (Space, arrows) go back to the player
  });
  const tl = $("timeline");
  tl.min = String(bundle.start);
  tl.max = String(bundle.end);
  tl.addEventListener("input", () => seek(Number(tl.value)));
  $("fit").addEventListener("click", () => fitView());
  $("save-png").addEventListener("click", () => savePNG());
  $("follow").addEventListener("change", (e) => { state.follow = e.target.checked; state.dirty = true; });
  const heatScale = () => {
    renderer.setHeatScale($("heat-fixed").checked ? Number($("heat-max-min").value) * 60 : null);
    updateLegend(); state.dirty = true;
  };
  $("heat-fixed").addEventListener("change", heatScale);
  $("heat-max-min").addEventListener("change", heatScale);
  bindTimelineHover();
  $("color-by").addEventListener("change", (e) => {
    renderer.colorBy = e.target.value; updateLegend(); state.dirty = true;
  });
  $("heat-mode").addEventListener("change", (e) => {
    renderer.heatMode = e.target.value; renderer.heatKey = ""; renderer.baseDirty = true;
    updateLegend(); state.dirty = true; e.target.blur();
  });
  const toggles = $("layer-toggles");
  for (const [name, label] of Object.entries(LAYER_LABELS)) {
    if (!(name in renderer.layers)) continue;
    const l = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.id = `layer-${name}`;
    cb.checked = renderer.layers[name];
    cb.addEventListener("change", () => setLayer(name, cb.checked));
    l.append(cb, ` ${label}`);
    // A layer with nothing to show in this run is greyed out (and says why).
    const empty = emptyLayer(name);
    if (empty) { cb.disabled = true; l.classList.add("empty"); l.title = empty; }
    toggles.appendChild(l);
  }
  // Without a mission area, the heat map can only show vehicle density.
  if (!(bundle.manifest.layers.coverage.grid.cells_in_area > 0)) {
    for (const o of [...$("heat-mode").options]) if (o.value !== "density") o.remove();
    renderer.heatMode = "density";
    $("heat-scale-row").hidden = true;
  }
  document.addEventListener("keydown", (e) => {
    const tag = (e.target && e.target.tagName) || "";
    const typing = tag === "INPUT" && (e.target.type === "number" || e.target.type === "text");
    // Space plays / pauses whatever has focus (a button, a menu, a checkbox), except
    // while typing a number.
    if (e.key === " " && !typing) {
      setPlaying(!state.playing); e.preventDefault(); e.stopPropagation(); return;
    }
    if ((e.key === "f" || e.key === "F") && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
      fitView(); e.preventDefault(); return;
    }
    if (tag === "SELECT" || (tag === "INPUT" && e.target.type !== "range" && e.target.type !== "checkbox")) return;
    if (e.key === " ") { setPlaying(!state.playing); e.preventDefault(); }
    else if (e.key === "ArrowRight" && tag !== "INPUT") { pickEvent(events.step(state.t, +1)); e.preventDefault(); }
    else if (e.key === "ArrowLeft" && tag !== "INPUT") { pickEvent(events.step(state.t, -1)); e.preventDefault(); }
    else if (e.key === "Home") seek(bundle.start);
    else if (e.key === "End") seek(bundle.end);
  });

  const map = $("map");
  let drag = null;
  const onMap = (e) => e.target === map || e.target.tagName === "CANVAS";
  map.addEventListener("pointerdown", (e) => {
    // Buttons on the map (fit, save PNG) keep their clicks: no capture for them.
    if (!onMap(e)) return;
    drag = { x: e.offsetX, y: e.offsetY, moved: false, id: e.pointerId };
    map.setPointerCapture(e.pointerId);
  });
  map.addEventListener("pointermove", (e) => {
    const x = e.offsetX, y = e.offsetY;
    if (e.target !== map && e.target.tagName !== "CANVAS") return;
    mouse = { x, y };
    showCursor(x, y);
    if (drag) {
      const dx = x - drag.x, dy = y - drag.y;
      if (drag.moved || Math.abs(dx) + Math.abs(dy) > 3) {
        drag.moved = true;
        map.classList.add("dragging");
        renderer.pan(dx, dy);
        drag.x = x; drag.y = y;
        state.dirty = true;
      }
      return;
    }
    const v = renderer.pick(x, y);
    if (v !== renderer.hovered) { renderer.hovered = v; state.dirty = true; showVehicle(); }
    showTooltip(v, x, y);
  });
  map.addEventListener("pointerup", (e) => {
    if (drag && !drag.moved && (e.target === map || e.target.tagName === "CANVAS")) {
      renderer.selected = renderer.pick(e.offsetX, e.offsetY);
      state.dirty = true;
      showVehicle();
      updateLegend();
    }
    drag = null;
    map.classList.remove("dragging");
  });
  map.addEventListener("pointerleave", () => {
    mouse = null; renderer.hovered = -1; $("tooltip").hidden = true; state.dirty = true;
    $("cursor-pos").textContent = ""; cursor = null;
  });
  map.addEventListener("dblclick", (e) => { if (onMap(e)) fitView(); });
  map.addEventListener("wheel", (e) => {
    e.preventDefault();
    renderer.zoomAt(e.offsetX, e.offsetY, Math.exp(-e.deltaY * 0.0015));
    state.dirty = true;
  }, { passive: false });
  new ResizeObserver(() => {
    const first = renderer.W <= 1;
    if (renderer.resize(map.clientWidth, map.clientHeight) && first) renderer.fit();
    events.drawStrip();
    events.render(true, state.t);
    charts.layout();
    drawTicks();
    state.dirty = true;
  }).observe(map);
}

function fitView() {
  renderer.fit();
  if (state.follow) { state.follow = false; $("follow").checked = false; }
  state.dirty = true;
}

/** The current view (map layers, legend, clock) as a PNG download. */
function savePNG() {
  const W = renderer.W, H = renderer.H;
  const c = document.createElement("canvas");
  c.width = W; c.height = H + 24;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#101419";
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage($("base"), 0, 0);
  ctx.drawImage($("overlay"), 0, 0);
  ctx.font = "13px 'Liberation Sans', Arial, sans-serif";
  ctx.fillStyle = "#e3e8ee";
  ctx.textBaseline = "middle";
  const m = bundle.manifest;
  ctx.fillText(`${m.scenario.name} · seed ${m.scenario.seed} · ${formatTime(state.drawnT)} / ` +
    `${formatTime(bundle.end)} · ${$("counts").innerText.replace(/\n/g, " ")}` +
    (wind.state ? ` · ${wind.state.text}` : ""), 8, H + 12);
  const url = c.toDataURL("image/png");
  const a = document.createElement("a");
  a.href = url;
  a.download = `${m.scenario.name}-${Math.floor(state.drawnT)}s.png`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  lastPNG = url;
}
let lastPNG = null;
let cursor = null;

/** World coordinates and terrain elevation under the pointer. */
function showCursor(x, y) {
  const [wx, wy] = renderer.screenToWorld(x, y);
  const z = renderer.elevationAt(wx, wy);
  cursor = { x: wx, y: wy, z };
  $("cursor-pos").textContent = `x ${wx.toFixed(0)} m · y ${wy.toFixed(0)} m` +
    (z === z ? ` · elevation ${z.toFixed(0)} m` : "");
}

function timelineX() {
  const tl = $("timeline"), r = tl.getBoundingClientRect();
  const inset = 8;
  return { left: r.left + inset, width: Math.max(r.width - 2 * inset, 1), rect: r };
}

/** Tick marks and labels of the timeline (under it). */
function drawTicks() {
  const c = $("timeline-ticks");
  const w = Math.max(c.clientWidth, 1), h = c.height;
  c.width = w;
  const ctx = c.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const span = bundle.end - bundle.start;
  if (!(span > 0)) return;
  const tx = timelineX(), off = tx.left - c.getBoundingClientRect().left;
  const steps = [1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
  const step = steps.find((s) => (s / span) * tx.width >= 70) || steps[steps.length - 1];
  ctx.font = "10px 'Liberation Mono', monospace";
  ctx.fillStyle = "#8a96a3";
  ctx.strokeStyle = "#5f7486";
  ctx.textBaseline = "top";
  ticks = [];
  for (let t = Math.ceil(bundle.start / step) * step; t <= bundle.end + 1e-9; t += step) {
    const x = Math.round(off + ((t - bundle.start) / span) * tx.width) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, 4); ctx.stroke();
    const label = formatTime(t).replace(/\.0$/, "").replace(/^00:/, "");
    const lw = ctx.measureText(label).width;
    ctx.fillText(label, Math.min(Math.max(x - lw / 2, 0), w - lw), 4);
    ticks.push(t);
  }
}
let ticks = [];

function bindTimelineHover() {
  const tip = $("timeline-hover"), wrap = $("timeline-wrap");
  const at = (e) => {
    const tx = timelineX();
    const f = Math.min(Math.max((e.clientX - tx.left) / tx.width, 0), 1);
    return bundle.start + f * (bundle.end - bundle.start);
  };
  for (const id of ["timeline", "event-strip", "timeline-ticks"]) {
    const el = $(id);
    el.addEventListener("pointermove", (e) => {
      const t = at(e);
      tip.textContent = formatTime(t);
      tip.hidden = false;
      tip.style.left = `${e.clientX - wrap.getBoundingClientRect().left}px`;
      hoverTime = t;
    });
    el.addEventListener("pointerleave", () => { tip.hidden = true; hoverTime = NaN; });
  }
  // Clicking the event strip or the ticks seeks too.
  for (const id of ["event-strip", "timeline-ticks"]) {
    $(id).addEventListener("click", (e) => seek(at(e)));
  }
}
let hoverTime = NaN;

// ------------------------------------------------------------------ the view in the URL

let hashTimer = 0;
/** Keep #t=...&v=...&layers=...&view=... up to date (a moment can be shared). */
function scheduleHash() {
  if (!state.ready || hashTimer) return;
  hashTimer = setTimeout(() => {
    hashTimer = 0;
    const h = viewHash();
    if (location.hash.slice(1) !== h) history.replaceState(null, "", `#${h}`);
  }, state.playing ? 1000 : 150);
}

function viewHash() {
  const on = Object.entries(renderer.layers).filter(([, v]) => v).map(([k]) => k);
  const v = renderer.view;
  const parts = [`t=${+state.t.toFixed(3)}`];
  if (renderer.selected >= 0) parts.push(`v=${bundle.vehicles.id[renderer.selected]}`);
  parts.push(`layers=${on.join(",")}`,
    `view=${v.cx},${v.cy},${v.scale}`);
  if (state.follow) parts.push("follow=1");
  if (renderer.heatMode !== "idleness") parts.push(`heat=${renderer.heatMode}`);
  return parts.join("&");
}

/** Apply a view hash (t, v: a vehicle id, layers, view, follow, heat). */
function applyHash(hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  if (p.has("layers")) {
    const on = new Set(p.get("layers").split(",").filter(Boolean));
    for (const name of Object.keys(renderer.layers)) setLayer(name, on.has(name));
  }
  if (p.has("v")) {
    const id = Number(p.get("v"));
    const ids = bundle.vehicles.id;
    let idx = -1;
    for (let i = 0; i < ids.length; i++) if (ids[i] === id) { idx = i; break; }
    renderer.selected = idx;
  }
  if (p.has("view")) {
    const [cx, cy, sc] = p.get("view").split(",").map(Number);
    if ([cx, cy, sc].every(Number.isFinite) && sc > 0) {
      Object.assign(renderer.view, { cx, cy, scale: sc });
      renderer.baseDirty = true;
    }
  }
  if (p.get("follow") === "1") { state.follow = true; $("follow").checked = true; }
  if (p.has("heat") && ["idleness", "coverage", "density"].includes(p.get("heat"))) {
    renderer.heatMode = p.get("heat"); $("heat-mode").value = renderer.heatMode; renderer.heatKey = "";
  }
  updateLegend();
  const t = Number(p.get("t"));
  return p.has("t") && Number.isFinite(t) ? clampTime(t) : null;
}

/** Why a layer has nothing to show in this run ("" when it has something). */
function emptyLayer(name) {
  if (name === "missions" && !(bundle.missions.features || []).length) return "no mission areas in this run";
  if (name === "zones" && !(bundle.zones.features || []).length) return "no airspace zones in this run";
  if (name === "targets" && !bundle.targets.count) return "no targets in this run";
  return "";
}

function setLayer(name, on) {
  if (!(name in renderer.layers)) throw new Error(`no layer ${name}`);
  renderer.layers[name] = !!on;
  const cb = $(`layer-${name}`);
  if (cb) cb.checked = !!on;
  renderer.baseDirty = true;
  renderer.heatKey = "";
  state.dirty = true;
  updateLegend();
}

// ------------------------------------------------------------------ test / automation API

window.viewer = {
  get ready() { return state.ready; },
  get playing() { return state.playing; },
  get simTime() { return state.drawnT; },
  get targetTime() { return state.t; },
  get frame() { return state.frame; },
  get fps() { return state.fps; },
  get renderMs() { return state.renderMs; },
  get speed() { return state.speed; },
  get error() { return state.error; },
  get start() { return bundle ? bundle.start : NaN; },
  get end() { return bundle ? bundle.end : NaN; },
  get vehicleCount() { return bundle ? bundle.n : 0; },
  get chunk() { return player ? player.chunkIndex : -1; },
  get counts() { return { ...counts }; },
  get layers() { return renderer ? { ...renderer.layers } : {}; },
  get selected() { return renderer ? renderer.selected : -1; },
  /** What the last frame drew: road segments (open, closed) in view, pending order
   * dots, flashes, vehicle glyphs, and sites by kind. */
  get drawn() { return renderer ? JSON.parse(JSON.stringify(renderer.drawn)) : {}; },
  /** Orders created, delivered, failed and pending at time t (default: simTime). */
  orderCounts(t) { return renderer.orderCounts(t === undefined ? state.drawnT : Number(t)); },
  play() { setPlaying(true); },
  pause() { setPlaying(false); },
  seek,
  setSpeed(x) { state.speed = Number(x); $("speed").value = String(x); },
  setLayer,
  /** Screen position (CSS pixels, relative to the page) of vehicle index v as drawn, or null. */
  vehicleScreenPosition(v) {
    const x = renderer.sx[v], y = renderer.sy[v];
    if (!(x === x)) return null;
    const r = $("overlay").getBoundingClientRect();
    return { x: r.left + x, y: r.top + y, canvasX: x, canvasY: y };
  },
  /** State of vehicle index v at simTime, as drawn. */
  vehicleWorldPosition(v) {
    if (player.kind[v] === NO_STATE) return null;
    return vehicleFacts(v);
  },
  /** Everything drawn in the last frame, as plain arrays (index = dense vehicle index). */
  positions() {
    const kinds = bundle.manifest.leg_kinds;
    return {
      t: state.drawnT,
      x: Array.from(player.x), y: Array.from(player.y), z: Array.from(player.z),
      battery: Array.from(player.battery),
      state: Array.from(player.kind, (k) => (k === NO_STATE ? null : kinds[k])),
      sx: Array.from(renderer.sx), sy: Array.from(renderer.sy),
    };
  },
  worldToScreen(x, y) { return renderer.worldToScreen(x, y); },
  get view() { return renderer ? { ...renderer.view } : null; },
  get follow() { return state.follow; },
  select(v) { renderer.selected = v; state.dirty = true; updateLegend(); },
  /** The charts panel: rows' columns, cursor position (canvas px) and time axis. */
  get charts() {
    if (!charts) return null;
    return { open: charts.open, series: charts.series, cursorX: charts.cursorX,
      cursorT: charts.cursorT, x0: charts.x0, x1: charts.x1, timeToX: null };
  },
  chartX(t) { return charts.timeToX(Number(t)); },
  /** The charts' current values, as written in their gutter ("airborne 8 | ..."). */
  get chartsText() { return charts ? charts.text : ""; },
  /** Parked / charging / queued vehicles per site (by site id), as last drawn. */
  get siteCounts() { return renderer ? JSON.parse(JSON.stringify(renderer.siteCounts)) : {}; },
  /** Losses of separation drawn in the last frame: [[vehicle index, vehicle index], ...]. */
  get losPairs() { return renderer ? renderer.losPairs.map((p) => [...p]) : []; },
  get eventRows() { return events ? events.rowSummary() : []; },
  get legendText() { return $("legend").innerText; },
  get hash() { return viewHash(); },
  get lastPNG() { return lastPNG; },
  /** World position and terrain elevation under the pointer (null: not on the map). */
  get cursor() { return cursor; },
  get ticks() { return [...ticks]; },
  get hoverTime() { return hoverTime; },
  get heat() { return renderer ? renderer.heatInfo() : null; },
  /** The wind badge as shown (null: no wind in the run): speed, direction, arrow. */
  get wind() { return wind && wind.state ? { ...wind.state } : null; },
  /** Where each target is at t (default: simTime), [[x, y], ...] in metres. */
  targetPositions(t) {
    return targetPositions(bundle.targets, t === undefined ? state.drawnT : Number(t));
  },
  /** Fixed-wing orbits drawn in the last frame: [[vehicle, x, y, radius], ...]. */
  get orbits() { return renderer ? renderer.orbitsNow.map((o) => [...o]) : []; },
  fit: () => fitView(),
};

/** The heat map's colour map at f in [0, 1] ([r, g, b]), for tests. */
window.viewerRamp = rampRGB;

// ------------------------------------------------------------------ start

async function main() {
  const base = bundleBase(location.search);
  bundle = await Bundle.open(base);
  player = new Player(bundle);
  renderer = new Renderer(bundle, player, $("base"), $("overlay"));
  wind = new WindBadge($("wind"), bundle.manifest.layers.wind);
  const m = bundle.manifest;
  $("scenario-name").textContent = `${m.scenario.name} · seed ${m.scenario.seed} · ` +
    `${m.vehicles.count} vehicles · ${m.scenario.policy}`;
  document.title = `${m.scenario.name} – fleetsim replay`;
  events = new EventList(bundle, { list: $("events"), spacer: $("events-spacer"),
    filter: $("event-filter"), strip: $("event-strip"), count: $("event-count") }, pickEvent);
  charts = new Charts(bundle, { wrap: $("charts"), canvas: $("charts-canvas"),
    timeline: $("timeline") }, (t) => seek(t));
  renderer.losEvents(events.kinds);
  bindControls();
  charts.layout(); // first: its height takes from the map's
  const map = $("map");
  renderer.resize(map.clientWidth, map.clientHeight);
  renderer.fit();
  drawTicks();
  state.t = bundle.start;
  const fromHash = location.hash.length > 1 ? applyHash(location.hash) : null;
  if (fromHash !== null) state.t = fromHash;
  updateLegend();
  await bundle.chunk(bundle.chunkIndexAt(state.t));
  ensureChunk(state.t);
  showStatus("");
  requestAnimationFrame(frame);
  await seek(state.t);
  state.ready = true;
  window.addEventListener("hashchange", () => {
    if (location.hash.slice(1) === viewHash()) return;
    const t = applyHash(location.hash);
    if (t !== null) seek(t);
    state.dirty = true;
  });
}

main().catch(fail);

