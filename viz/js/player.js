// Interpolating every vehicle's state at the current time from one chunk's keyframes.
//
// Rows of a vehicle in a chunk are in time order; the segment from row i-1 to row i
// lies on one leg, whose kind is kind[i]. At time t the vehicle is between the first
// row whose time is >= t and the row before it (exactly what
// fleetsim.replay.keyframes.interpolate_chunk computes in Python).

export const NO_STATE = 255;

export class Player {
  constructor(bundle) {
    this.bundle = bundle;
    const n = bundle.n;
    this.n = n;
    this.x = new Float32Array(n);
    this.y = new Float32Array(n);
    this.z = new Float32Array(n);
    this.battery = new Float32Array(n);
    this.kind = new Uint8Array(n).fill(NO_STATE);
    this.sensing = new Uint8Array(n);
    this.row = new Int32Array(n); // current row (first row with time >= t), per vehicle
    this.chunkIndex = -1;
    this.cols = null;
    this.t = NaN;
    const kinds = bundle.manifest.leg_kinds;
    this.kindCount = new Int32Array(kinds.length + 1);
  }

  setChunk(k, cols) {
    this.chunkIndex = k;
    this.cols = cols;
    const off = cols.offsets;
    for (let v = 0; v < this.n; v++) this.row[v] = off[v];
  }

  /** Interpolate every vehicle at time t (the chunk must hold t). */
  update(t) {
    const c = this.cols;
    if (!c) return;
    const off = c.offsets, ts = c.t_s, xs = c.x_m, ys = c.y_m, zs = c.z_m, bs = c.battery_wh;
    const ks = c.kind, fl = c.flags;
    const X = this.x, Y = this.y, Z = this.z, B = this.battery, K = this.kind, S = this.sensing;
    const R = this.row, count = this.kindCount;
    count.fill(0);
    const none = count.length - 1;
    for (let v = 0, n = this.n; v < n; v++) {
      const a = off[v], b = off[v + 1];
      if (b <= a) { K[v] = NO_STATE; X[v] = NaN; Y[v] = NaN; count[none]++; continue; }
      let i = R[v];
      if (i < a) i = a; else if (i > b - 1) i = b - 1;
      while (i < b - 1 && ts[i] < t) i++;
      while (i > a && ts[i - 1] >= t) i--;
      R[v] = i;
      const j = i > a ? i - 1 : a;
      let f = 1;
      const t0 = ts[j], t1 = ts[i];
      if (i > a && t1 > t0) {
        f = (t - t0) / (t1 - t0);
        if (f < 0) f = 0; else if (f > 1) f = 1;
      }
      X[v] = xs[j] + f * (xs[i] - xs[j]);
      Y[v] = ys[j] + f * (ys[i] - ys[j]);
      Z[v] = zs[j] + f * (zs[i] - zs[j]);
      B[v] = bs[j] + f * (bs[i] - bs[j]);
      const k = ks[i];
      K[v] = k;
      S[v] = fl[i] & 1;
      count[k < none ? k : none]++;
    }
    this.t = t;
  }
}
