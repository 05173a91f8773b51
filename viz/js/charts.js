// The charts panel: the run's time series (manifest.timeseries, see ../FORMAT.md),
// one row per group of columns that apply to the run, on the timeline's time axis.
// A cursor line follows the current time; a click (or drag) seeks.

import { formatTime } from "./events.js";

/** Rows: title, columns (label, colour), value formatting. A row is shown when one of
 * its columns is in the bundle's time series. */
export const CHART_ROWS = [
  { id: "fleet", title: "fleet", cols: [["airborne", "airborne", "#22e4ff"],
    ["returning", "returning", "#ff8a3d"], ["charging", "charging", "#6dff7a"],
    ["queued_for_pad", "queued", "#ff5ce1"], ["on_ground", "on ground", "#8d949c"]] },
  { id: "coverage", title: "coverage %", cols: [["coverage_fraction", "covered", "#ffd84a"]],
    scale: 100, max: 100 },
  { id: "progress", title: "progress", cols: [["detections", "detections", "#ff3b6b"],
    ["orders_delivered", "delivered", "#5cff8a"]] },
  // Utilisation as counts on the queue's axis: operators busy against operators on
  // duty (absent from bundles written before those columns existed).
  { id: "operators", title: "operators", cols: [["operator_queue", "queue", "#c7a6ff"],
    ["operators_busy", "busy", "#ffb13b"], ["operators_on_duty", "on duty", "#4fd1c5"]] },
  { id: "separation", title: "loss of sep.", cols: [["los_active", "active", "#ff2d55"]] },
];
const ROW_H = 30;
const CURSOR = "#ffffff";

export class Charts {
  /** @param bundle the Bundle (bundle.series: columns or null)
   *  @param els {wrap, canvas, timeline}  @param onSeek called with a time */
  constructor(bundle, els, onSeek) {
    this.b = bundle;
    this.els = els;
    this.onSeek = onSeek;
    const s = bundle.series;
    this.rows = [];
    if (s && s.time_s && s.time_s.length) {
      for (const row of CHART_ROWS) {
        const cols = row.cols.filter(([name]) => s[name] && hasValue(s[name]));
        if (cols.length) this.rows.push({ ...row, cols });
      }
    }
    this.open = this.rows.length > 0;
    els.wrap.hidden = !this.open;
    this.x0 = 0; this.x1 = 1; this.W = 0; this.H = 0;
    this.cursorX = NaN;
    this.static = document.createElement("canvas");
    let dragging = false;
    const seekAt = (e) => {
      const r = els.canvas.getBoundingClientRect();
      this.onSeek(this.xToTime(e.clientX - r.left));
    };
    els.canvas.addEventListener("pointerdown", (e) => {
      dragging = true; els.canvas.setPointerCapture(e.pointerId); seekAt(e);
    });
    els.canvas.addEventListener("pointermove", (e) => { if (dragging) seekAt(e); });
    els.canvas.addEventListener("pointerup", () => { dragging = false; });
  }

  /** Names of the columns drawn, row by row. */
  get series() { return this.rows.map((r) => r.cols.map(([n]) => n)); }

  timeToX(t) {
    const span = Math.max(this.b.end - this.b.start, 1e-9);
    return this.x0 + ((t - this.b.start) / span) * (this.x1 - this.x0);
  }

  xToTime(x) {
    const f = Math.min(Math.max((x - this.x0) / Math.max(this.x1 - this.x0, 1), 0), 1);
    return this.b.start + f * (this.b.end - this.b.start);
  }

  /** Lay the plot out under the timeline (same time axis) and redraw the series. */
  layout() {
    if (!this.open) return;
    const c = this.els.canvas;
    const W = Math.max(1, Math.floor(this.els.wrap.clientWidth));
    const H = this.rows.length * ROW_H + 4;
    c.width = W; c.height = H; c.style.height = `${H}px`;
    const tl = this.els.timeline.getBoundingClientRect();
    const me = this.els.wrap.getBoundingClientRect();
    // A range input's thumb centre runs from half a thumb in from each end.
    const inset = 8;
    this.x0 = Math.max(170, tl.left - me.left + inset);
    this.x1 = Math.max(this.x0 + 10, Math.min(W - 8, tl.right - me.left - inset));
    this.W = W; this.H = H;
    this.drawStatic();
    this.lastKey = "";
  }

  drawStatic() {
    const st = this.static;
    st.width = this.W; st.height = this.H;
    const ctx = st.getContext("2d");
    const s = this.b.series, T = s.time_s, n = T.length;
    ctx.font = "11px 'Liberation Sans', Arial, sans-serif";
    ctx.textBaseline = "middle";
    this.rows.forEach((row, k) => {
      const top = 2 + k * ROW_H, bot = top + ROW_H - 4;
      row.top = top; row.bot = bot;
      ctx.fillStyle = k % 2 ? "#161b21" : "#1a2028";
      ctx.fillRect(this.x0, top, this.x1 - this.x0, bot - top);
      let max = row.max || 0;
      if (!row.max) for (const [name] of row.cols) for (const v of s[name]) if (v > max) max = v;
      max = niceMax(max);
      row.yMax = max;
      const y = (v) => bot - 1 - ((v * (row.scale || 1)) / max) * (bot - top - 3);
      for (const [name, , color] of row.cols) {
        const col = s[name];
        ctx.beginPath();
        let pen = false;
        for (let i = 0; i < n; i++) {
          const v = col[i];
          if (!(v === v)) { pen = false; continue; }
          const px = this.timeToX(T[i]), py = y(v);
          if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
          pen = true;
        }
        ctx.strokeStyle = color;
        ctx.lineWidth = 1.5;
        ctx.stroke();
      }
      ctx.fillStyle = "#8a96a3";
      ctx.textAlign = "right";
      ctx.fillText(String(max), this.x0 - 4, top + 5);
      ctx.textAlign = "left";
    });
  }

  /** The row values at time t: the latest sample at or before t. */
  sampleIndex(t) {
    const T = this.b.series.time_s;
    let lo = 0, hi = T.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (T[m] <= t) lo = m + 1; else hi = m; }
    return Math.max(lo - 1, 0);
  }

  /** Draw the panel at time t (cheap: the series are a cached image). */
  draw(t) {
    if (!this.open) return;
    const i = this.sampleIndex(t);
    const x = Math.round(this.timeToX(t)) + 0.5;
    const key = `${x}:${i}:${this.W}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    const ctx = this.els.canvas.getContext("2d");
    ctx.clearRect(0, 0, this.W, this.H);
    ctx.drawImage(this.static, 0, 0);
    const s = this.b.series;
    ctx.font = "11px 'Liberation Sans', Arial, sans-serif";
    ctx.textBaseline = "middle";
    const texts = [];
    for (const row of this.rows) {
      // Title and current values in the gutter left of the plot, flowing onto a
      // second line.
      const mid = (row.top + row.bot) / 2;
      const right = this.x0 - 12 - ctx.measureText(String(row.yMax)).width;
      ctx.fillStyle = "#8a96a3";
      ctx.fillText(row.title, 6, mid - 6);
      let px = 10 + ctx.measureText(row.title).width, py = mid - 6;
      // (the row's top value is written at the top right of the gutter, on line 1)
      for (const [name, label, color] of row.cols) {
        const v = s[name][i];
        const text = `${label} ${fmt(v, row.scale)}`;
        texts.push(text);
        const w = ctx.measureText(text).width;
        if (px + w > right && py < mid) { px = 6; py = mid + 7; }
        if (px + w > right) continue;
        ctx.fillStyle = color;
        ctx.fillText(text, px, py);
        px += w + 8;
      }
    }
    ctx.strokeStyle = CURSOR;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x, 0); ctx.lineTo(x, this.H);
    ctx.stroke();
    this.text = texts.join(" | ");
    this.cursorX = x;
    this.cursorT = t;
    this.els.canvas.title = `${formatTime(t)} — click to go to a time`;
  }
}

function hasValue(col) {
  for (const v of col) if (v === v) return true;
  return false;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v, scale) {
  if (!(v === v)) return "–";
  if (scale) return (v * scale).toFixed(1);
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
