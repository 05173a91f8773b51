// Wind, moving targets with their datums, and fixed-wing loiter orbits: the optional
// parts of a bundle (manifest.layers.wind, targets.json's vx_mps / vy_mps / datums,
// `loiter` events). Targets that move and orbits are drawn on the overlay every frame;
// the wind is a badge over the map (an arrow pointing downwind, speed and direction).

const TARGET_RGB = "255,59,107";

/** The wind period in force at t (the last with t_s <= t), or null without wind. */
export function windAt(wind, t) {
  if (!wind || !wind.periods || !wind.periods.length) return null;
  let cur = wind.periods[0];
  for (const p of wind.periods) if (p.t_s <= t) cur = p;
  return cur;
}

function compass(deg) {
  const names = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
  return names[Math.round((((deg % 360) + 360) % 360) / 45) % 8];
}

/** The wind badge: an arrow rotated to where the wind blows (screen north up), and
 * its speed and direction; hidden for a bundle without wind. */
export class WindBadge {
  constructor(el, wind) {
    this.el = el;
    this.wind = wind || null;
    this.shown = null;
    this.state = null;
    if (el) el.hidden = !windAt(this.wind, 0);
  }

  update(t) {
    const p = windAt(this.wind, t);
    if (!p || !this.el || p === this.shown) return;
    this.shown = p;
    const toward = (p.from_deg + 180) % 360; // clockwise from north, as on the map
    const text = `wind ${p.speed_mps.toFixed(1)} m/s from ${Math.round(p.from_deg)}° ` +
      `(${compass(p.from_deg)})`;
    this.el.querySelector(".arrow").setAttribute("transform", `rotate(${toward})`);
    this.el.querySelector(".text").textContent = text;
    this.el.title = `${text} at ${this.wind.ref_height_m} m above ground` +
      (this.wind.periods.length > 1 ? `; changes at ${this.wind.periods.slice(1)
        .map((q) => `${q.t_s} s`).join(", ")}` : "");
    this.state = { t_s: p.t_s, speed_mps: p.speed_mps, from_deg: p.from_deg,
      arrow_deg: toward, text, periods: this.wind.periods.length };
  }
}

/** Loiter orbits by vehicle index: [{t, x, y, r}, ...] in time order. */
export function loiterOrbits(bundle) {
  const ev = bundle.events, k = bundle.manifest.event_kinds.indexOf("loiter");
  const out = new Map();
  if (k < 0) return out;
  for (let i = 0; i < ev.time_s.length; i++) {
    if (ev.kind[i] !== k || ev.vehicle[i] < 0) continue;
    const v = ev.vehicle[i];
    if (!out.has(v)) out.set(v, []);
    out.get(v).push({ t: ev.time_s[i], x: ev.x_m[i], y: ev.y_m[i], r: ev.value[i] });
  }
  return out;
}

/** Where each target is at t ([[x, y], ...]); the targets layer's positions are
 * those at time 0 and a target with a velocity moves at it. */
export function targetPositions(tg, t) {
  const out = [];
  for (let i = 0; i < tg.count; i++) {
    const vx = tg.vx_mps ? tg.vx_mps[i] || 0 : 0, vy = tg.vy_mps ? tg.vy_mps[i] || 0 : 0;
    out.push([tg.x_m[i] + vx * t, tg.y_m[i] + vy * t]);
  }
  return out;
}

function diamond(ctx, px, py, r) {
  ctx.beginPath();
  ctx.moveTo(px, py - r); ctx.lineTo(px + r, py); ctx.lineTo(px, py + r); ctx.lineTo(px - r, py);
  ctx.closePath();
}

/** Moving targets at t, with their tracks since time 0 (polylines), and the datums
 * (dashed track, a cross in a circle). Returns what was drawn. */
export function drawTargetTracks(r, ctx, t, found) {
  const tg = r.bundle.targets;
  const drawn = { targetTracks: 0, datums: 0 };
  const moving = !!tg.vx_mps;
  if (moving) {
    const now = targetPositions(tg, t);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = `rgba(${TARGET_RGB},0.7)`;
    ctx.beginPath();
    for (let i = 0; i < tg.count; i++) {
      const [ax, ay] = r.worldToScreen(tg.x_m[i], tg.y_m[i]);
      const [bx, by] = r.worldToScreen(now[i][0], now[i][1]);
      if (Math.max(ax, bx) < -10 || Math.max(ay, by) < -10 || Math.min(ax, bx) > r.W + 10 ||
          Math.min(ay, by) > r.H + 10) continue;
      ctx.moveTo(ax, ay); ctx.lineTo(bx, by);
      drawn.targetTracks++;
    }
    ctx.stroke();
    for (let i = 0; i < tg.count; i++) {
      const [px, py] = r.worldToScreen(now[i][0], now[i][1]);
      if (px < -10 || py < -10 || px > r.W + 10 || py > r.H + 10) continue;
      diamond(ctx, px, py, 5);
      if (found[i] <= t) { ctx.fillStyle = "#ff3b6b"; ctx.fill(); }
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = found[i] <= t ? "#ffffff" : "#ff3b6b";
      ctx.stroke();
    }
  }
  for (const d of tg.datums || []) {
    const [ax, ay] = r.worldToScreen(d.x_m, d.y_m);
    const [bx, by] = r.worldToScreen(d.x_m + d.vx_mps * t, d.y_m + d.vy_mps * t);
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "rgba(255,255,255,0.85)";
    ctx.beginPath();
    ctx.moveTo(ax, ay); ctx.lineTo(bx, by);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.arc(bx, by, 7, 0, 2 * Math.PI);
    ctx.moveTo(bx - 10, by); ctx.lineTo(bx + 10, by);
    ctx.moveTo(bx, by - 10); ctx.lineTo(bx, by + 10);
    ctx.lineWidth = 1.8;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    ctx.font = "11px 'Liberation Sans', Arial, sans-serif";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#10141a";
    ctx.strokeText(`datum ${d.id}`, bx + 12, by - 9);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(`datum ${d.id}`, bx + 12, by - 9);
    drawn.datums++;
  }
  return drawn;
}

/** The orbits being flown at t: a vehicle's last loiter at or before t, while it
 * holds on that circle (the engine flies an orbit as chords, so within the chords'
 * sagitta of the radius). Returns [[vehicle, x, y, r], ...]. */
export function activeOrbits(r, orbits, t) {
  const p = r.player, ki = r.kindIndex, out = [];
  const holding = new Set([ki.hold, ki.wait_pad, ki.wait_load].filter((k) => k !== undefined));
  for (const [v, list] of orbits) {
    if (!holding.has(p.kind[v])) continue;
    let o = null;
    for (const e of list) { if (e.t <= t) o = e; else break; }
    if (!o || !(o.r > 0)) continue;
    const d = Math.hypot(p.x[v] - o.x, p.y[v] - o.y);
    if (d < 0.9 * o.r || d > 1.01 * o.r + 1) continue;
    out.push([v, o.x, o.y, o.r]);
  }
  return out;
}

/** Orbit circles (ctx.arc: true circles, not the chords the legs are). */
export function drawOrbits(r, ctx, list) {
  if (!list.length) return 0;
  ctx.beginPath();
  for (const [, x, y, rad] of list) {
    const [px, py] = r.worldToScreen(x, y);
    const pr = rad * r.view.scale;
    ctx.moveTo(px + pr, py);
    ctx.arc(px, py, pr, 0, 2 * Math.PI);
  }
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = "rgba(255,216,74,0.9)";
  ctx.stroke();
  return list.length;
}
