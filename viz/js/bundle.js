// Loading a replay bundle (see ../FORMAT.md): the manifest, column files and chunks.

export const FORMAT_NAME = "fleetsim-replay";
export const FORMAT_VERSION = 2;
/** Versions this viewer reads (version 1 bundles have no time series). */
export const READABLE_VERSIONS = [1, 2];

const TYPED = {
  "<f8": Float64Array, "<f4": Float32Array,
  "<u4": Uint32Array, "<i4": Int32Array,
  "<u2": Uint16Array, "<i2": Int16Array,
  "<u1": Uint8Array, "<i1": Int8Array,
};

/** The bundle's base URL: "./" or the `?bundle=` parameter, which must be a relative
 * path on this server (the viewer never loads anything from another origin). */
export function bundleBase(search) {
  const param = new URLSearchParams(search).get("bundle");
  if (param === null || param === "") return "./";
  if (/^[a-z][a-z0-9+.-]*:/i.test(param) || param.startsWith("//") || param.includes("\\")) {
    throw new Error(`?bundle= must be a relative path on this server, got ${param}`);
  }
  return param.endsWith("/") ? param : param + "/";
}

async function fetchOk(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res;
}

export async function fetchJSON(url) {
  return (await fetchOk(url)).json();
}

/** Fetch a .bin file and view its columns in place as typed arrays. */
export async function fetchColumns(base, entry) {
  const buf = await (await fetchOk(base + entry.file)).arrayBuffer();
  if (buf.byteLength !== entry.bytes) {
    throw new Error(`${entry.file}: ${buf.byteLength} bytes, the manifest says ${entry.bytes}`);
  }
  const out = {};
  for (const [name, col] of Object.entries(entry.columns)) {
    const Typed = TYPED[col.dtype];
    if (!Typed) throw new Error(`${entry.file}: column ${name} has unknown dtype ${col.dtype}`);
    out[name] = new Typed(buf, col.offset, col.count);
  }
  return out;
}

export function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`${url}: cannot load the image`));
    img.src = url;
  });
}

export class Bundle {
  static async open(base) {
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
      throw new Error("this viewer needs a little-endian machine");
    }
    const manifest = await fetchJSON(base + "manifest.json");
    if (manifest.format !== FORMAT_NAME) throw new Error("manifest.json is not a fleetsim replay");
    if (!READABLE_VERSIONS.includes(manifest.version)) {
      throw new Error(`replay format version ${manifest.version}; this viewer reads versions ` +
        `${READABLE_VERSIONS.join(", ")} (rebuild the bundle with 'fleetsim replay RUN_DIR')`);
    }
    const b = new Bundle(base, manifest);
    const L = manifest.layers;
    const [vehicles, events, coverage, zones, missions, sites, targets, terrain] =
      await Promise.all([
        fetchColumns(base, manifest.vehicles),
        fetchColumns(base, manifest.events),
        fetchColumns(base, L.coverage),
        fetchJSON(base + L.zones), fetchJSON(base + L.missions),
        fetchJSON(base + L.sites), fetchJSON(base + L.targets),
        loadImage(base + L.terrain.image),
      ]);
    Object.assign(b, { vehicles, events, coverage, zones, missions, sites, targets, terrain });
    // Logistics layers (absent from bundles of runs without roads, water or orders).
    const [roads, water, orders, orderIds, series] = await Promise.all([
      L.roads ? fetchColumns(base, L.roads) : null,
      L.water ? fetchColumns(base, L.water) : null,
      L.orders ? fetchColumns(base, L.orders) : null,
      L.orders && L.orders.ids ? fetchJSON(base + L.orders.ids) : null,
      manifest.timeseries ? fetchColumns(base, manifest.timeseries) : null,
    ]);
    Object.assign(b, { roads, water, orders, orderIds, series });
    // The height grid, for the elevation under the pointer (optional: drawn without it).
    b.heights = null;
    if (L.terrain.heights && L.terrain.heights.file) {
      b.heights = (await fetchColumns(base, L.terrain.heights)).heights_m;
    }
    return b;
  }

  constructor(base, manifest) {
    this.base = base;
    this.manifest = manifest;
    this.start = manifest.time.start_s;
    this.end = manifest.time.end_s;
    this.n = manifest.vehicles.count;
    this.chunkStarts = manifest.chunks.map((c) => c.t0_s);
    this.cache = new Map(); // chunk index -> Promise of columns
    this.loaded = new Map(); // chunk index -> columns (resolved)
    this.maxCached = 4;
  }

  /** Index of the chunk holding time t (the later one on a boundary). */
  chunkIndexAt(t) {
    const s = this.chunkStarts;
    let lo = 0, hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** Columns of chunk k (a Promise; loads it once, keeps the last few). */
  chunk(k) {
    let p = this.cache.get(k);
    if (p) {
      this.cache.delete(k);
      this.cache.set(k, p); // most recently used last
      return p;
    }
    p = fetchColumns(this.base, this.manifest.chunks[k]).then((cols) => {
      this.loaded.set(k, cols);
      return cols;
    });
    p.catch(() => { this.cache.delete(k); });
    this.cache.set(k, p);
    while (this.cache.size > this.maxCached) {
      const oldest = this.cache.keys().next().value;
      this.cache.delete(oldest);
      this.loaded.delete(oldest);
    }
    return p;
  }
}
