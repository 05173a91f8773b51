// The event stream: filtering by kind, stepping, a virtualised clickable list and
// the density strip above the timeline.

const ROW = 20;
export const EVENT_COLORS = {
  detection: "#ff3b6b", zone_enter: "#ff9f43", zone_exit: "#ffc988",
  return_start: "#ff8a3d", reserve_reached: "#ffd84a", battery_depleted: "#ff2020",
  landed: "#c7a6ff", takeoff: "#8fd8ff", charge_start: "#6dff7a", charge_end: "#b6ffbd",
  pad_queue: "#ff5ce1", terrain_violation: "#b07bff", plan: "#5c6b7a",
  run_start: "#ffffff", run_end: "#ffffff", arrive: "#4dd0e1",
  order_created: "#ffb020", order_assigned: "#c9a35a", load_queue: "#ff9ecf", pickup: "#3ddcff",
  delivered: "#5cff8a", order_failed: "#ff4040", road_closed: "#ff3030", reroute: "#ff9f43",
  launch: "#9dff6b", dock: "#5d6d7e",
  los_start: "#ff2d55", los_end: "#ff8fa3", conflict: "#ffcc00", deconflict: "#7fdbff",
  strategic_delay: "#b39ddb",
};
/** Kinds left out of the "notable events" filter: routine, or one per order (a busy
 * logistics run creates thousands; their outcomes, delivered / order_failed, stay). */
export const NOT_NOTABLE = ["plan", "run_start", "run_end",
  "order_created", "order_assigned", "load_queue", "pickup", "work_start", "work_end",
  "arrive", "deconflict", "conflict", "strategic_delay", "link_restored", "los_end",
  "zone_exit", "charge_end", "action_start", "auth_request", "auth_granted", "ack", "review"];
/** Safety and failure events: always notable, marked on the timeline strip. */
export const SAFETY = ["los_start", "terrain_violation", "zone_enter", "order_failed",
  "auth_timeout", "battery_depleted", "veto_late", "action_refused", "link_lost"];
/** Events of one kind at one place within this many seconds of the previous one form
 * a burst, shown as one row (when at least MIN_BURST of them). */
export const BURST_GAP_S = 5;
const MIN_BURST = 3;
const SITE_KINDS = ["takeoff", "landed", "pad_queue", "charge_start", "charge_end",
  "return_start", "launch", "dock"];
// Event kinds whose target is an order (older bundles do not list them).
const ORDER_KINDS = ["order_created", "order_assigned", "load_queue", "pickup", "delivered",
  "order_failed"];

export function formatTime(s) {
  if (!Number.isFinite(s)) return "--:--:--";
  const neg = s < 0;
  const tenths = Math.round(Math.abs(s) * 10); // round once, so 59.96 s shows as 00:01:00.0
  const h = Math.floor(tenths / 36000), m = Math.floor((tenths % 36000) / 600);
  const ss = ((tenths % 600) / 10).toFixed(1).padStart(4, "0");
  return `${neg ? "-" : ""}${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${ss}`;
}

export class EventList {
  constructor(bundle, els, onPick) {
    this.b = bundle;
    this.els = els; // {list, spacer, filter, strip, count}
    this.onPick = onPick;
    this.kinds = bundle.manifest.event_kinds;
    const ev = bundle.events;
    this.time = ev.time_s;
    this.n = this.time.length;
    // Kinds present, with counts, for the filter.
    const counts = new Map();
    for (let i = 0; i < this.n; i++) {
      const k = this.kinds[ev.kind[i]] || "?";
      counts.set(k, (counts.get(k) || 0) + 1);
    }
    this.counts = counts;
    const f = els.filter;
    f.innerHTML = "";
    const add = (value, label) => {
      const o = document.createElement("option");
      o.value = value; o.textContent = label; f.appendChild(o);
    };
    const notable = [...counts.keys()].filter((k) => !NOT_NOTABLE.includes(k) || SAFETY.includes(k));
    this.safetyCodes = new Set(SAFETY.map((k) => this.kinds.indexOf(k)).filter((c) => c >= 0));
    this.orderKinds = new Set(bundle.manifest.events.order_kinds || ORDER_KINDS);
    this.details = bundle.manifest.events.details || [];
    add("notable", `notable events (${notable.reduce((s, k) => s + counts.get(k), 0)})`);
    add("all", `all events (${this.n})`);
    for (const [k, c] of [...counts.entries()].sort()) add(`kind:${k}`, `${k} (${c})`);
    this.notableKinds = new Set(notable);
    f.addEventListener("change", () => this.setFilter(f.value));
    els.list.addEventListener("scroll", () => this.render());
    els.list.addEventListener("click", (e) => {
      const row = e.target.closest(".ev");
      if (row) this.onPick(Number(row.dataset.index));
    });
    this.hovered = false;
    els.list.addEventListener("mouseenter", () => { this.hovered = true; });
    els.list.addEventListener("mouseleave", () => { this.hovered = false; });
    this.current = -1;
    this.setFilter("notable");
  }

  setFilter(value) {
    const ev = this.b.events;
    const keep = [];
    for (let i = 0; i < this.n; i++) {
      const k = this.kinds[ev.kind[i]];
      if (value === "all" || (value === "notable" && this.notableKinds.has(k)) ||
          value === `kind:${k}`) keep.push(i);
    }
    this.filterValue = value;
    this.els.filter.value = value;
    this.groupRows(keep);
    this.els.spacer.style.height = `${this.rows.length * ROW}px`;
    this.els.count.textContent = `${this.rows.length}`;
    this.current = -2;
    this.drawStrip();
    this.render(true);
  }

  /** The place an event happened, for grouping bursts: a zone, a target, or the
   * vehicle's base for take-offs, landings, charging and the like. */
  placeOf(i) {
    const ev = this.b.events, kind = this.kinds[ev.kind[i]];
    if (ev.zone[i] >= 0) return `z${ev.zone[i]}`;
    if (SITE_KINDS.includes(kind) && ev.vehicle[i] >= 0) return `s${this.b.vehicles.base[ev.vehicle[i]]}`;
    if (ev.detail && ev.detail[i]) return `d${ev.detail[i]}`;
    return "";
  }

  /** Rows of the list: single events and bursts (MIN_BURST or more events of one kind
   * at one place, each within BURST_GAP_S of the previous). Rows are in order of their
   * first event; this.rows holds each row's first event, this.groups its events. */
  groupRows(keep) {
    const ev = this.b.events, T = this.time;
    const open = new Map(); // kind:place -> group
    const groups = [];
    for (const i of keep) {
      const key = `${ev.kind[i]}:${this.placeOf(i)}`;
      const g = open.get(key);
      if (g && T[i] - T[g[g.length - 1]] <= BURST_GAP_S) { g.push(i); continue; }
      const ng = [i];
      open.set(key, ng);
      groups.push(ng);
    }
    // Bursts too small to group are split back into single rows.
    const rows = [];
    for (const g of groups) {
      if (g.length >= MIN_BURST) rows.push(g);
      else for (const i of g) rows.push([i]);
    }
    rows.sort((a, b) => T[a[0]] - T[b[0]] || a[0] - b[0]);
    this.groups = rows;
    this.rows = Int32Array.from(rows, (g) => g[0]); // first event of each row, time order
  }

  /** Position in the rows of the last row starting at or before t (-1 if none). */
  lastAtOrBefore(t) {
    const r = this.rows, T = this.time;
    let lo = 0, hi = r.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (T[r[m]] <= t) lo = m + 1; else hi = m; }
    return lo - 1;
  }

  /** The event starting the next (dir > 0) or previous (dir < 0) row strictly
   * after / before t (a burst counts once, at its first event); -1 if none. */
  step(t, dir) {
    const r = this.rows, T = this.time, eps = 1e-6;
    if (dir > 0) {
      let lo = 0, hi = r.length;
      while (lo < hi) { const m = (lo + hi) >> 1; if (T[r[m]] <= t + eps) lo = m + 1; else hi = m; }
      return lo < r.length ? r[lo] : -1;
    }
    let lo = 0, hi = r.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (T[r[m]] < t - eps) lo = m + 1; else hi = m; }
    return lo > 0 ? r[lo - 1] : -1;
  }

  /** A row's text: a single event's description, or a burst's count, kind, place and
   * time span. */
  describeRow(r) {
    const g = this.groups[r], i = g[0];
    if (g.length === 1) return { ...this.describe(i), count: 1 };
    const ev = this.b.events, kind = this.kinds[ev.kind[i]] || "?";
    const place = this.placeOf(i);
    let where = "";
    if (place[0] === "z") {
      const z = (this.b.zones.features || [])[ev.zone[i]];
      where = ` in zone ${z ? z.properties.id : ev.zone[i]}`;
    } else if (place[0] === "s") {
      const site = this.b.sites[this.b.vehicles.base[ev.vehicle[i]]];
      where = site ? ` at ${site.id}` : "";
    } else if (place[0] === "d") {
      where = ` (${this.details[ev.detail[i]] ?? ""})`;
    }
    const t0 = this.time[i], t1 = this.time[g[g.length - 1]];
    return { kind, count: g.length,
      text: `×${g.length.toLocaleString("en")}${where}, ${formatTime(t0)}–${formatTime(t1)}` };
  }

  /** The rows as shown, for tests: [{kind, count, time, text}]. */
  rowSummary() {
    return this.groups.map((g, r) => {
      const d = this.describeRow(r);
      return { kind: d.kind, count: g.length, time: this.time[g[0]], text: d.text,
        events: g.length <= 50 ? [...g] : null };
    });
  }

  describe(i) {
    const ev = this.b.events, kind = this.kinds[ev.kind[i]] || "?";
    const parts = [];
    const veh = this.b.vehicles;
    if (ev.vehicle[i] >= 0) parts.push(`v${veh.id[ev.vehicle[i]]}`);
    const detail = ev.detail ? (this.details[ev.detail[i]] ?? "") : "";
    const isOrder = this.orderKinds.has(kind) || (kind === "action_refused" && detail === "pickup");
    if (ev.target[i] >= 0 && isOrder) {
      const ids = this.b.orderIds || [];
      parts.push(`order ${ids[ev.target[i]] ?? ev.target[i]}`);
    } else if (ev.target[i] >= 0) {
      const ids = this.b.targets.ids || [];
      parts.push(`target ${ids[ev.target[i]] ?? ev.target[i]}`);
    }
    if (kind === "order_failed" && detail) parts.push(`(${detail})`);
    else if (kind === "road_closed") parts.push(`road ${detail || ""}`.trim());
    else if ((kind === "launch" || kind === "dock") && ev.value[i] === ev.value[i]) {
      parts.push(`${kind === "launch" ? "from" : "onto"} v${ev.value[i]}`); // the carrier's id
    }
    if (ev.zone[i] >= 0) {
      const z = (this.b.zones.features || [])[ev.zone[i]];
      parts.push(`zone ${z ? z.properties.id : ev.zone[i]}`);
    }
    return { kind, text: parts.join(" ") };
  }

  /** Redraw the visible rows; mark past/current/future relative to time t. */
  render(force = false, t = this.t) {
    this.t = t;
    const list = this.els.list, spacer = this.els.spacer;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    const last = Math.min(this.rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + 5);
    const cur = this.lastAtOrBefore(t ?? -Infinity);
    const key = `${first}:${last}:${cur}:${this.filterValue}`;
    if (!force && key === this.renderKey) return;
    this.renderKey = key;
    const frag = document.createDocumentFragment();
    for (let r = first; r < last; r++) {
      const i = this.rows[r];
      const d = this.describeRow(r);
      const div = document.createElement("div");
      div.className = "ev" + (r === cur ? " current" : r > cur ? " future" : "");
      div.style.top = `${r * ROW}px`;
      div.dataset.index = String(i);
      div.dataset.time = String(this.time[i]);
      const dot = document.createElement("span");
      dot.className = "k";
      dot.style.background = EVENT_COLORS[d.kind] || "#aaa";
      div.dataset.count = String(d.count);
      if (this.safetyCodes.has(this.b.events.kind[i])) div.classList.add("safety");
      div.append(formatTime(this.time[i]), dot, `${d.kind} ${d.text}`);
      div.title = d.count > 1 ? `${d.count} ${d.kind} events${d.text.replace(/^×[\d,]+/, "")}`
        : `${d.kind} at ${this.time[i].toFixed(3)} s ${d.text}` +
          (this.b.events.value[i] === this.b.events.value[i] ? ` (value ${this.b.events.value[i]})` : "");
      frag.appendChild(div);
    }
    spacer.replaceChildren(frag);
  }

  /** Follow the current time: re-mark rows, and scroll to keep the current event in view
   * (unless the pointer is on the list: clicking an event must not move it). */
  follow(t) {
    const cur = this.lastAtOrBefore(t);
    if (!this.hovered && cur !== this.current) {
      const list = this.els.list;
      const y = Math.max(cur, 0) * ROW;
      if (y < list.scrollTop || y > list.scrollTop + list.clientHeight - 2 * ROW) {
        list.scrollTop = Math.max(0, y - list.clientHeight / 2);
      }
    }
    this.current = cur;
    this.render(false, t);
  }

  drawStrip() {
    const c = this.els.strip;
    const w = Math.max(c.clientWidth, 1), h = c.height;
    c.width = w;
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    const { start, end } = this.b;
    const span = Math.max(end - start, 1e-9);
    const bins = new Float32Array(w);
    const det = new Uint8Array(w);
    const detKind = this.kinds.indexOf("detection");
    for (const i of this.rows) {
      const x = Math.min(w - 1, Math.max(0, Math.floor(((this.time[i] - start) / span) * w)));
      bins[x]++;
      if (this.b.events.kind[i] === detKind) det[x] = 1;
    }
    let max = 1;
    for (const v of bins) if (v > max) max = v;
    const top = 5; // the top rows: safety and failure events, whatever the filter
    for (let x = 0; x < w; x++) {
      if (!bins[x]) continue;
      const bh = Math.max(2, Math.round((h - top - 2) * Math.sqrt(bins[x] / max)));
      ctx.fillStyle = det[x] ? EVENT_COLORS.detection : "#5f7486";
      ctx.fillRect(x, h - bh, 1, bh);
    }
    const ev = this.b.events;
    this.safetyMarks = 0;
    const marked = new Uint8Array(w);
    for (let i = 0; i < this.n; i++) {
      if (!this.safetyCodes.has(ev.kind[i])) continue;
      const x = Math.min(w - 1, Math.max(0, Math.floor(((this.time[i] - start) / span) * w)));
      this.safetyMarks++;
      if (marked[x]) continue;
      marked[x] = 1;
      ctx.fillStyle = EVENT_COLORS[this.kinds[ev.kind[i]]] || "#ff2d55";
      ctx.fillRect(Math.max(0, x - 1), 0, 3, top);
    }
  }
}
