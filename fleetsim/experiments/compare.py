"""Compare the configurations of a sweep: summaries, paired differences, an HTML report.

Reads the folder ``fleetsim sweep`` writes (``experiment.json``, ``results.parquet``
and ``runs/<run_id>/``) and answers "which configuration is better, by how much,
and could it be chance?".

Statistics
----------
:func:`summarize`
    Per configuration and metric, over the runs that finished (status ``ok``) and
    have a value: ``n``, mean, standard deviation (``ddof=1``) and the t-based
    confidence interval ``mean ± t(1 - α/2, n - 1) · sd / √n``.

:func:`paired_differences`
    Every configuration is compared with the baseline *on the same seeds*: a run's
    seed fixes its random numbers (targets, failures, operator service times...), so
    configuration and baseline run with common random numbers (CRN) and the
    difference ``d_s = x_config(s) - x_baseline(s)`` of one seed removes the noise
    the two share. Only seeds where both have a value are paired.

    The reported test, and what **significant** means, is the **paired t-test**
    (``t = mean(d) / (sd(d) / √n)`` with ``n - 1`` degrees of freedom, the same as
    :func:`scipy.stats.ttest_rel`) at level ``α = 1 - confidence`` (5 % by default);
    its confidence interval is the t interval of the mean difference, so
    "significant" and "the CI excludes 0" always agree. It is exact when the
    differences are normal, robust to moderate non-normality by the central limit
    theorem, and the standard analysis of simulation output under CRN (Law,
    *Simulation Modeling and Analysis*, ch. 10).

    As a distribution-free check for small ``n`` and skewed metrics (waits, times
    to a milestone), each comparison also gives a **bootstrap percentile interval**
    of the mean difference (:data:`BOOTSTRAP_RESAMPLES` resamples of the seeds,
    ``numpy.random.default_rng(BOOTSTRAP_SEED)`` per comparison, so it is
    reproducible and does not depend on which other metrics were asked for). It is
    shown next to the t interval, not used for the verdict: with few seeds the
    percentile bootstrap is too narrow (it ignores the uncertainty in ``sd``), so it
    would call too much significant; where the two disagree, look closer.

    When all differences are equal (zero variance; e.g. a configuration identical
    to the baseline, or a deterministic metric) the t statistic is undefined: we
    report ``p = 1.0`` if they are all 0 and ``p = 0.0`` otherwise, with the interval
    collapsed to the common value, and no warning. With fewer than two pairs there
    is no test (``p`` is NaN, not significant).

    Each comparison is tested on its own: no correction for testing many metrics
    and configurations at once; with 20 tests at 5 %, one "significant" result is
    expected by chance alone.

:func:`report_html`
    ``OUT/report.html``: one self-contained page (inline CSS, PNG plots embedded as
    ``data:`` URIs, no scripts) with the tables above, the failed runs, and plots;
    the same results give the same bytes (no timestamps, no software tag in the PNGs).
"""

from __future__ import annotations

import base64
import difflib
import html
import io
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from fleetsim.errors import FleetsimError
from fleetsim.metrics.catalog import canonical_metrics, canonical_name

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "CompareError", "PairedDifference",
           "Summary", "Sweep", "bootstrap_ci", "comparison_text", "config_label",
           "metric_names", "paired_differences", "parse_baseline", "read_sweep",
           "report_html", "resolve_baseline", "resolve_metrics", "summarize"]

EXPERIMENT = "experiment.json"
RESULTS = "results.parquet"
RESULTS_CSV = "results.csv"
RUNS = "runs"
REPORT = "report.html"

#: The columns of the results table that are not metrics (besides one per factor).
RUN_COLUMNS = ("run_id", "config", "seed", "status", "error")

#: Bootstrap resamples and generator seed of :func:`bootstrap_ci`.
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0

#: The oversight metrics of the utilisation / wait scatter plot.
UTILIZATION = "oversight.utilization_mean"
APPROVAL_WAIT = "oversight.approval_wait_mean_s"

NAN = float("nan")


class CompareError(FleetsimError, ValueError):
    """A sweep folder, metric, baseline or option that cannot be compared.

    A :class:`ValueError` for library callers, a :class:`FleetsimError` for the
    CLI (a one-line message, exit status 2).
    """


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Sweep:
    """A sweep folder as read by :func:`read_sweep`: its experiment description and
    its results table (column name -> list of values, None where null)."""

    out_dir: Path
    experiment: dict[str, Any]
    table: dict[str, list]


def read_sweep(out_dir: str | os.PathLike) -> Sweep:
    """Read ``experiment.json`` and ``results.parquet`` (or ``results.csv``) of a sweep."""
    out = Path(out_dir)
    what = "a sweep folder is what 'fleetsim sweep' writes"
    if not out.is_dir():
        raise CompareError(f"{out}: no such sweep folder ({what})")
    exp_file = out / EXPERIMENT
    if not exp_file.is_file():
        raise CompareError(f"{out}: not a sweep folder (no {EXPERIMENT}; {what})")
    try:
        experiment = json.loads(exp_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"{exp_file}: unreadable ({exc})") from None
    if not isinstance(experiment, dict) or not isinstance(experiment.get("configs"), list) \
            or not isinstance(experiment.get("factors"), list):
        raise CompareError(f"{exp_file}: not a sweep's experiment description "
                           "(expected an object with 'factors' and 'configs')")
    try:
        if (out / RESULTS).is_file():
            import pyarrow.parquet as pq

            table = pq.read_table(out / RESULTS).to_pydict()
        elif (out / RESULTS_CSV).is_file():
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(out / RESULTS_CSV).to_pydict()
        else:
            raise CompareError(f"{out}: no {RESULTS} (the sweep has not finished, or "
                               f"this is not a sweep folder; {what})")
    except CompareError:
        raise
    except Exception as exc:  # pyarrow's errors: a truncated or foreign file
        raise CompareError(f"{out}: unreadable results table ({exc})") from None
    missing = [c for c in RUN_COLUMNS if c not in table]
    if missing:
        raise CompareError(f"{out}: the results table has no column {', '.join(missing)}")
    # a sweep written before a metric was renamed: its columns under today's names
    table = canonical_metrics(table)
    if isinstance(experiment.get("metrics"), list):
        experiment["metrics"] = [canonical_name(m) if isinstance(m, str) else m
                                 for m in experiment["metrics"]]
    return Sweep(out, experiment, table)


def _columns(table: Any) -> dict[str, list]:
    """Column name -> list of values for a :class:`Sweep`, a pyarrow Table, a pandas
    DataFrame or a mapping of columns."""
    if isinstance(table, Sweep):
        return table.table
    if hasattr(table, "to_pydict"):  # pyarrow.Table
        return table.to_pydict()
    if hasattr(table, "to_dict") and hasattr(table, "columns"):  # pandas.DataFrame
        return {str(k): list(v) for k, v in table.to_dict("list").items()}
    if isinstance(table, Mapping):
        return {str(k): list(v) for k, v in table.items()}
    raise TypeError(f"expected a results table (pyarrow Table, DataFrame or mapping), "
                    f"got {type(table).__name__}")


def _value(x: Any) -> float | None:
    """A metric cell as a float, or None when absent (null, NaN, not a number)."""
    if x is None or isinstance(x, bool | str):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _factor_names(experiment: Mapping[str, Any]) -> list[str]:
    return [str(f["name"]) for f in experiment.get("factors") or []]


def _levels(factor: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(name, value) of a factor's levels: given as plain values, or as objects
    ``{"name", "value", ...}`` (the value is what configurations and the results
    table hold: the name of a named level, the value set at the factor's path)."""
    out = []
    for lv in factor.get("levels") or []:
        if isinstance(lv, Mapping):
            name = str(lv.get("name", lv.get("value")))
            out.append((name, lv.get("value", name)))
        else:
            out.append((str(lv), lv))
    return out


def _factor_levels(experiment: Mapping[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    return {str(f["name"]): _levels(f) for f in experiment.get("factors") or []}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def _level_name(levels: list[tuple[str, Any]], value: Any) -> str | None:
    """The name of the level ``value`` stands for (a level's value, or its name), or None."""
    for name, v in levels:
        if _same(value, v):
            return name
    for name, _v in levels:
        if str(value) == name:
            return name
    return None


def _configs(experiment: Mapping[str, Any]) -> list[tuple[int, dict[str, str]]]:
    """(index, {factor: level name}) of the configurations, in design order.

    A configuration is ``{"index" or "config": i, "values" or "factors": {...}}``.
    """
    levels = _factor_levels(experiment)
    out = []
    for c in experiment.get("configs") or []:
        index = c["index"] if "index" in c else c["config"]
        given = c.get("values", c.get("factors")) or {}
        values = {}
        for k, v in given.items():
            name = _level_name(levels.get(str(k), []), v)
            values[str(k)] = name if name is not None else str(v)
        # In the order the experiment declares its factors (the JSON may sort them).
        order = [k for k in levels if k in values] + [k for k in values if k not in levels]
        out.append((int(index), {k: values[k] for k in order}))
    return out


def config_label(values: Mapping[str, Any]) -> str:
    """``factor=level, factor=level`` (a configuration's name in tables and plots)."""
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "(no factors)"


def _is_ok(status: Any) -> bool:
    return str(status) == "ok"


def metric_names(table: Any, experiment: Mapping[str, Any]) -> list[str]:
    """The metric columns of a results table, in table order."""
    cols = _columns(table)
    skip = set(RUN_COLUMNS) | set(_factor_names(experiment))
    out = []
    for name, values in cols.items():
        if name in skip:
            continue
        if all(v is None or (isinstance(v, int | float | np.number) and not isinstance(v, bool))
               for v in values):
            out.append(name)
    return out


def _has_variance(cols: dict[str, list], metric: str) -> bool:
    seen = {v for v, s in zip((_value(x) for x in cols[metric]), cols["status"], strict=True)
            if v is not None and _is_ok(s)}
    return len(seen) > 1


def resolve_metrics(table: Any, experiment: Mapping[str, Any],
                    metrics: Sequence[str] | None = None) -> list[str]:
    """The metrics to compare: ``metrics`` (checked), else the experiment's, else
    every metric that varies across the finished runs."""
    cols = _columns(table)
    known = metric_names(cols, experiment)
    if metrics is None:
        metrics = experiment.get("metrics") or None  # [] or null: none chosen
        if metrics is None:
            return [m for m in known if _has_variance(cols, m)]
    out = []
    for m in map(canonical_name, metrics):
        if m not in known:
            close = difflib.get_close_matches(m, known, n=1, cutoff=0.6)
            hint = (f"did you mean {close[0]!r}?" if close else
                    f"the sweep's metrics are {', '.join(known) or 'none'}")
            raise CompareError(f"unknown metric {m!r}: {hint}")
        if m not in out:
            out.append(m)
    return out


def parse_baseline(items: Sequence[str]) -> dict[str, str]:
    """``["factor=level", ...]`` (the CLI's ``--baseline``) as a dict."""
    out = {}
    for item in items:
        name, sep, level = item.partition("=")
        if not sep or not name.strip():
            raise CompareError(f"--baseline {item!r}: expected FACTOR=LEVEL")
        out[name.strip()] = level.strip()
    return out


def resolve_baseline(experiment: Mapping[str, Any],
                     baseline: Mapping[str, Any] | Sequence[str] | int | None = None) -> int:
    """The index of the baseline configuration.

    ``baseline``: a configuration index; or ``{factor: level}`` (or
    ``["factor=level", ...]``), possibly partial, which must match exactly one
    configuration; or None for the experiment's baseline, or else the first
    configuration.
    """
    configs = _configs(experiment)
    if not configs:
        raise CompareError("the experiment has no configurations")
    if baseline is None:
        baseline = experiment.get("baseline")
        if baseline is None:
            return configs[0][0]
    if isinstance(baseline, int | np.integer) and not isinstance(baseline, bool):
        if int(baseline) not in {i for i, _ in configs}:
            raise CompareError(f"baseline configuration {baseline}: no such configuration "
                               f"(0..{len(configs) - 1})")
        return int(baseline)
    if not isinstance(baseline, Mapping):
        baseline = parse_baseline(list(baseline))
    wanted: dict[str, Any] = {str(k): v for k, v in baseline.items()}
    factors = _factor_levels(experiment)
    for name, level in list(wanted.items()):
        if name not in factors:
            raise CompareError(f"baseline {name}={level}: no factor {name!r} "
                               f"(factors: {', '.join(factors) or 'none'})")
        found = _level_name(factors[name], level)
        if found is None:
            raise CompareError(f"baseline {name}={level}: no level {str(level)!r} of factor "
                               f"{name!r} (levels: {', '.join(n for n, _ in factors[name])})")
        wanted[name] = found
    matches = [(i, v) for i, v in configs if all(v.get(k) == x for k, x in wanted.items())]
    given = config_label(wanted)
    if not matches:
        raise CompareError(f"baseline {given}: matches no configuration of the design")
    if len(matches) > 1:
        listed = "; ".join(f"#{i} {config_label(v)}" for i, v in matches)
        raise CompareError(f"baseline {given}: matches {len(matches)} configurations "
                           f"({listed}); give more factors so that it matches one")
    return matches[0][0]


def _check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not 0.0 < c < 1.0:
        raise CompareError(f"confidence {confidence}: expected a number between 0 and 1 "
                           "(e.g. 0.95)")
    return c


def _ok_values(cols: dict[str, list], metric: str) -> list[tuple[int, int, float]]:
    """(config, seed, value) of the finished runs with a value of ``metric``."""
    out = []
    for cfg, seed, status, x in zip(cols["config"], cols["seed"], cols["status"], cols[metric],
                                    strict=True):
        v = _value(x)
        if v is not None and _is_ok(status):
            out.append((int(cfg), int(seed), v))
    return out


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Summary:
    """One configuration's values of one metric (finished runs with a value)."""

    metric: str
    config: int
    values: dict[str, str]
    n: int
    mean: float
    sd: float         #: standard deviation, ddof=1 (NaN for n < 2)
    ci_low: float     #: t confidence interval of the mean (NaN for n < 2)
    ci_high: float
    confidence: float

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2.0

    @property
    def label(self) -> str:
        return config_label(self.values)


@dataclass(frozen=True)
class PairedDifference:
    """A configuration minus the baseline on one metric, paired by seed."""

    metric: str
    config: int
    values: dict[str, str]
    baseline: int
    baseline_values: dict[str, str]
    seeds: tuple[int, ...]          #: the paired seeds, sorted
    differences: tuple[float, ...]  #: config - baseline, per paired seed
    n: int
    mean: float                     #: mean difference
    sd: float
    ci_low: float                   #: t confidence interval of the mean difference
    ci_high: float
    t: float                        #: paired t statistic (±inf for constant non-zero differences)
    p: float                        #: two-sided p-value of the paired t-test
    boot_low: float                 #: bootstrap percentile interval of the mean difference
    boot_high: float
    config_mean: float              #: means over the paired seeds
    baseline_mean: float
    confidence: float
    significant: bool = field(default=False)  #: p < 1 - confidence

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def label(self) -> str:
        return config_label(self.values)


def _t_interval(x: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """mean, sd, low, high of the t interval (NaN where undefined)."""
    n = len(x)
    if n == 0:
        return NAN, NAN, NAN, NAN
    if np.all(x == x[0]):  # exact, and no cancellation noise in sd
        mean = float(x[0])
        return (mean, NAN, NAN, NAN) if n < 2 else (mean, 0.0, mean, mean)
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def bootstrap_ci(x: Sequence[float] | np.ndarray, confidence: float = 0.95, *,
                 resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``x`` (NaN for fewer than 2 values)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < 2:
        return NAN, NAN
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = np.empty(int(resamples))
    step = max(1, 2_000_000 // n)  # rows per block: bounded memory for many seeds
    for start in range(0, len(means), step):
        stop = min(len(means), start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def summarize(table: Any, experiment: Mapping[str, Any], metrics: Sequence[str] | None = None,
              confidence: float = 0.95) -> list[Summary]:
    """Per metric (outer) and configuration (inner, design order): n, mean, sd and the
    t confidence interval of the mean, over the finished runs with a value."""
    confidence = _check_confidence(confidence)
    cols = _columns(table)
    metrics = resolve_metrics(cols, experiment, metrics)
    out = []
    for metric in metrics:
        by_config: dict[int, list[float]] = {}
        for cfg, _seed, v in _ok_values(cols, metric):
            by_config.setdefault(cfg, []).append(v)
        for index, values in _configs(experiment):
            x = np.asarray(by_config.get(index, []), dtype=np.float64)
            mean, sd, low, high = _t_interval(x, confidence)
            out.append(Summary(metric, index, values, len(x), mean, sd, low, high, confidence))
    return out


def _paired_test(d: np.ndarray, confidence: float) -> tuple[float, ...]:
    """mean, sd, low, high, t, p of the paired t-test on differences ``d``."""
    n = len(d)
    mean, sd, low, high = _t_interval(d, confidence)
    if n < 2:
        return mean, sd, low, high, NAN, NAN
    if sd == 0.0:  # all equal: t is 0/0 or x/0
        if mean == 0.0:
            return mean, sd, low, high, 0.0, 1.0
        return mean, sd, low, high, math.copysign(math.inf, mean), 0.0
    t = mean / (sd / math.sqrt(n))
    p = float(2.0 * stats.t.sf(abs(t), n - 1))
    return mean, sd, low, high, float(t), min(1.0, p)


def paired_differences(table: Any, experiment: Mapping[str, Any],
                       baseline: Mapping[str, Any] | Sequence[str] | int | None = None,
                       metrics: Sequence[str] | None = None,
                       confidence: float = 0.95) -> list[PairedDifference]:
    """Each non-baseline configuration minus the baseline, per metric (outer) and
    configuration (inner, design order), on the seeds where both have a value.

    See the module docstring for the test (paired t; bootstrap interval alongside).
    ``baseline``: see :func:`resolve_baseline`.
    """
    confidence = _check_confidence(confidence)
    cols = _columns(table)
    metrics = resolve_metrics(cols, experiment, metrics)
    base = resolve_baseline(experiment, baseline)
    configs = _configs(experiment)
    base_values = dict(configs)[base]
    out = []
    for metric in metrics:
        by_config: dict[int, dict[int, float]] = {}
        for cfg, seed, v in _ok_values(cols, metric):
            per_seed = by_config.setdefault(cfg, {})
            if seed in per_seed:
                raise CompareError(f"configuration {cfg} has two finished runs with seed "
                                   f"{seed}: cannot pair its runs with the baseline's by seed")
            per_seed[seed] = v
        ref = by_config.get(base, {})
        for index, values in configs:
            if index == base:
                continue
            mine = by_config.get(index, {})
            seeds = tuple(sorted(set(mine) & set(ref)))
            x = np.array([mine[s] for s in seeds], dtype=np.float64)
            y = np.array([ref[s] for s in seeds], dtype=np.float64)
            d = x - y
            mean, sd, low, high, t, p = _paired_test(d, confidence)
            blow, bhigh = bootstrap_ci(d, confidence)
            out.append(PairedDifference(
                metric=metric, config=index, values=values, baseline=base,
                baseline_values=base_values, seeds=seeds,
                differences=tuple(float(v) for v in d), n=len(d), mean=mean, sd=sd,
                ci_low=low, ci_high=high, t=t, p=p, boot_low=blow, boot_high=bhigh,
                config_mean=float(np.mean(x)) if len(x) else NAN,
                baseline_mean=float(np.mean(y)) if len(y) else NAN,
                confidence=confidence,
                significant=bool(not math.isnan(p) and p < 1.0 - confidence)))
    return out


# --------------------------------------------------------------------------- formatting


def fmt_number(x: float | None) -> str:
    """About 4 significant digits, without an exponent between 0.001 and 1e6; "-" for none."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0.0:
        return "0"
    mag = abs(x)
    if 1e-3 <= mag < 1e6:
        decimals = max(0, 3 - math.floor(math.log10(mag)))
        return f"{x:.{decimals}f}"
    return f"{x:.3e}"


def fmt_p(p: float) -> str:
    if math.isnan(p):
        return "-"
    if p < 1e-4:
        return "< 0.0001"
    return f"{p:.4f}"


def fmt_interval(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{fmt_number(low)}, {fmt_number(high)}]"


def comparison_text(diffs: Sequence[PairedDifference]) -> str:
    """The paired comparison as a plain-text table per metric (the CLI's output)."""
    if not diffs:
        return "no comparison: the experiment has a single configuration\n"
    first = diffs[0]
    pct = f"{first.confidence * 100:g}%"
    lines = [f"baseline: {config_label(first.baseline_values)} (configuration "
             f"{first.baseline})",
             "differences: configuration - baseline on the same seeds; paired t-test, "
             f"significant at {first.alpha * 100:.3g}% (p < {first.alpha:.3g})"]
    header = ("configuration", "n", "mean diff", f"{pct} CI", f"bootstrap {pct} CI", "p",
              "significant")
    metrics = list(dict.fromkeys(d.metric for d in diffs))
    for metric in metrics:
        rows = [(d.label, str(d.n), fmt_number(d.mean), fmt_interval(d.ci_low, d.ci_high),
                 fmt_interval(d.boot_low, d.boot_high), fmt_p(d.p),
                 "yes" if d.significant else "no")
                for d in diffs if d.metric == metric]
        widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
        lines.append("")
        lines.append(metric)
        for r in [header, *rows]:
            cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:],
                                                                           strict=True)]
            lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- plots


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=96, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg backend, whatever pyplot's backend is
    return fig


def _png(fig) -> str:
    """The figure as base64 PNG (no software tag, no timestamp: byte-stable)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


@contextmanager
def _default_style() -> Iterator[None]:
    """Matplotlib's default style, whatever the user's matplotlibrc (restored after)."""
    import matplotlib
    import matplotlib.style

    with matplotlib.rc_context():
        matplotlib.style.use("default")
        yield


def _plot_metric(metric: str, summaries: Sequence[Summary], baseline: int) -> str:
    n = len(summaries)
    labels = [s.label if len(s.label) <= 40 else s.label[:37] + "..." for s in summaries]
    fig = _figure(max(4.0, 0.8 * n + 2.0), 3.2)
    ax = fig.add_subplot()
    xs = np.arange(n)
    means = np.array([s.mean for s in summaries])
    low = np.array([s.ci_low if not math.isnan(s.ci_low) else s.mean for s in summaries])
    high = np.array([s.ci_high if not math.isnan(s.ci_high) else s.mean for s in summaries])
    colours = ["tab:orange" if s.config == baseline else "tab:blue" for s in summaries]
    for x, m, lo, hi, c in zip(xs, means, low, high, colours, strict=True):
        if math.isnan(m):
            continue
        ax.errorbar([x], [m], yerr=[[m - lo], [hi - m]], fmt="o", color=c, capsize=4)
    ax.set_xticks(xs, labels, rotation=30 if n > 3 or max(map(len, labels)) > 14 else 0,
                  ha="right" if n > 3 or max(map(len, labels)) > 14 else "center",
                  fontsize=8)
    ax.set_xlim(-0.5, n - 0.5)
    conf = summaries[0].confidence * 100 if summaries else 95
    ax.set_title(f"{metric}: mean and {conf:g}% CI (orange: baseline)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _coverage_curves(sweep: Sweep, configs: list[tuple[int, dict[str, str]]],
                     n_points: int = 200) -> dict[int, tuple[np.ndarray, np.ndarray, int]]:
    """Per configuration: (t_s, mean covered fraction over its runs, number of runs)."""
    from fleetsim.errors import RunDirError
    from fleetsim.metrics import coverage_curve
    from fleetsim.rundir import read_run

    cols = sweep.table
    runs: dict[int, list[str]] = {}
    for run_id, cfg, status in zip(cols["run_id"], cols["config"], cols["status"], strict=True):
        if _is_ok(status):
            runs.setdefault(int(cfg), []).append(str(run_id))
    out = {}
    for index, _values in configs:
        curves = []
        for run_id in runs.get(index, []):
            path = sweep.out_dir / RUNS / run_id
            if not path.is_dir():
                continue
            try:
                curves.append(coverage_curve(read_run(path), n_points=n_points))
            except RunDirError:
                continue
        if not curves:
            continue
        end = max(float(t[-1]) for t, _ in curves)
        grid = np.linspace(0.0, end, n_points)
        frac = np.mean([np.interp(grid, t, f) for t, f in curves], axis=0)
        out[index] = (grid, frac, len(curves))
    return out


def _plot_coverage(curves: dict[int, tuple[np.ndarray, np.ndarray, int]],
                   configs: list[tuple[int, dict[str, str]]], baseline: int) -> str:
    fig = _figure(7.0, 3.8)
    ax = fig.add_subplot()
    for index, values in configs:
        if index not in curves:
            continue
        t, f, n = curves[index]
        label = config_label(values) + (" (baseline)" if index == baseline else "") + f", {n} runs"
        k = len(ax.lines)
        ax.plot(t / 60.0, f * 100.0, label=label, linewidth=2.2 if index == baseline else 1.3,
                linestyle=("-", "--", ":", "-.")[(k // 10) % 4])
    ax.set_xlabel("time (min)")
    ax.set_ylabel("area covered (%)")
    ax.set_title("Coverage over time (mean over seeds)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def _plot_oversight(points: list[tuple[str, float, float]]) -> str:
    fig = _figure(6.0, 4.2)
    ax = fig.add_subplot()
    ax.scatter([u for _, u, _ in points], [w for _, _, w in points], color="tab:blue", zorder=3)
    for label, u, w in points:
        ax.annotate(label, (u, w), textcoords="offset points", xytext=(5, 5), fontsize=7)
    ax.set_xlabel("operator utilisation (oversight.utilization_mean)")
    ax.set_ylabel("approval wait (s, oversight.approval_wait_mean_s)")
    ax.set_title("Operator utilisation vs approval wait (mean over seeds per configuration)",
                 fontsize=9)
    ax.margins(0.15)
    ax.grid(alpha=0.3)
    return _png(fig)


# --------------------------------------------------------------------------- report

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td.l, th.l { text-align: left; }
tr.base td { background: #fff4e5; }
td.yes { color: #060; font-weight: bold; }
.small { color: #555; font-size: 0.85em; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plots figure { margin: 0; }
figcaption { font-size: 0.8em; color: #555; }
pre { white-space: pre-wrap; margin: 0; font-size: 0.85em; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _img(data: str, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _seeds_text(seeds: Sequence[Any]) -> str:
    s = [int(x) for x in seeds]
    if s and s == list(range(s[0], s[0] + len(s))) and len(s) > 2:
        return f"{len(s)} seeds ({s[0]}..{s[-1]})"
    return f"{len(s)} seeds ({', '.join(map(str, s))})"


def report_html(out_dir: str | os.PathLike, path: str | os.PathLike | None = None, *,
                baseline: Mapping[str, Any] | Sequence[str] | int | None = None,
                metrics: Sequence[str] | None = None, confidence: float = 0.95) -> Path:
    """Write the sweep's HTML report (default ``OUT/report.html``); returns its path.

    ``metrics``: the metrics to report (default: the experiment's, else every metric
    that varies); ``baseline``, ``confidence``: see :func:`paired_differences`.
    """
    sweep = read_sweep(out_dir)
    exp = sweep.experiment
    cols = sweep.table
    confidence = _check_confidence(confidence)
    metrics = resolve_metrics(cols, exp, metrics)
    base = resolve_baseline(exp, baseline)
    configs = _configs(exp)
    summaries = summarize(cols, exp, metrics, confidence)
    diffs = paired_differences(cols, exp, base, metrics, confidence)
    pct = f"{confidence * 100:g}%"
    alpha_pct = f"{(1.0 - confidence) * 100:.3g}%"

    statuses = [str(s) for s in cols["status"]]
    n_ok = sum(_is_ok(s) for s in statuses)
    title = f"Experiment {exp.get('experiment', sweep.out_dir.name)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
    ]
    if exp.get("description"):
        parts.append(f"<p>{_e(exp['description'])}</p>")
    parts.append("<table>")
    facts = [("scenario", exp.get("scenario", "")),
             ("configurations", len(configs)),
             ("seeds", _seeds_text(exp.get("seeds") or [])),
             ("runs", f"{len(statuses)} ({n_ok} ok, {len(statuses) - n_ok} failed)"),
             ("baseline", f"{config_label(dict(configs)[base])} (configuration {base})"),
             ("confidence", pct)]
    parts += [f'<tr><th class="l">{_e(k)}</th><td class="l">{_e(v)}</td></tr>' for k, v in facts]
    parts.append("</table>")

    parts.append("<h2>Factors</h2>")
    parts.append('<table><tr><th class="l">factor</th><th class="l">levels</th></tr>')
    for f in exp.get("factors") or []:
        levels = ", ".join(name for name, _ in _levels(f))
        parts.append(f'<tr><td class="l">{_e(f["name"])}</td><td class="l">{_e(levels)}</td>'
                     "</tr>")
    parts.append("</table>")

    parts.append("<h2>Means per configuration</h2>")
    parts.append(f'<p class="small">Mean &plusmn; half-width of the {pct} t confidence '
                 "interval over the finished runs with a value (n: their number).</p>")
    if metrics:
        parts.append('<table><tr><th class="l">#</th><th class="l">configuration</th>'
                     + "".join(f"<th>{_e(m)}</th>" for m in metrics) + "</tr>")
        by_key = {(s.metric, s.config): s for s in summaries}
        for index, values in configs:
            cls = ' class="base"' if index == base else ""
            cells = []
            for m in metrics:
                s = by_key[(m, index)]
                text = fmt_number(s.mean)
                if not math.isnan(s.half_width):
                    text += f" &plusmn; {_e(fmt_number(s.half_width))}"
                cells.append(f'<td>{text} <span class="small">(n={s.n})</span></td>')
            tag = " (baseline)" if index == base else ""
            parts.append(f'<tr{cls}><td class="l">{index}</td><td class="l">'
                         f"{_e(config_label(values) + tag)}</td>{''.join(cells)}</tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No metric varies across the runs: nothing to compare.</p>")

    parts.append("<h2>Differences from the baseline</h2>")
    parts.append(
        f'<p class="small">Configuration &minus; baseline ({_e(config_label(dict(configs)[base]))})'
        f" on runs with the same seed (common random numbers). CI: {pct} t interval of the mean "
        f"difference; p: two-sided paired t-test; significant: p &lt; {alpha_pct}. The bootstrap "
        f"{pct} percentile interval ({BOOTSTRAP_RESAMPLES} resamples) is a distribution-free "
        "check; no correction for multiple comparisons.</p>")
    if diffs:
        parts.append('<table><tr><th class="l">metric</th><th class="l">configuration</th>'
                     f"<th>pairs</th><th>baseline mean</th><th>mean diff</th><th>{pct} CI</th>"
                     f"<th>bootstrap {pct} CI</th><th>p</th><th>significant</th></tr>")
        for d in diffs:
            sig = '<td class="yes">yes</td>' if d.significant else "<td>no</td>"
            parts.append(
                f'<tr><td class="l">{_e(d.metric)}</td><td class="l">{_e(d.label)}</td>'
                f"<td>{d.n}</td><td>{_e(fmt_number(d.baseline_mean))}</td>"
                f"<td>{_e(fmt_number(d.mean))}</td><td>{_e(fmt_interval(d.ci_low, d.ci_high))}"
                f"</td><td>{_e(fmt_interval(d.boot_low, d.boot_high))}</td>"
                f"<td>{_e(fmt_p(d.p))}</td>{sig}</tr>")
        parts.append("</table>")
    else:
        parts.append("<p>Nothing to compare (a single configuration, or no metric).</p>")

    with _default_style():
        figures = []
        by_metric: dict[str, list[Summary]] = {}
        for s in summaries:
            by_metric.setdefault(s.metric, []).append(s)
        for m in metrics:
            figures.append((_plot_metric(m, by_metric[m], base), m))
        coverage_png = None
        if "coverage.cells" in cols and any(
                _is_ok(s) and (_value(c) or 0) > 0
                for s, c in zip(cols["status"], cols["coverage.cells"], strict=True)):
            curves = _coverage_curves(sweep, configs)
            if curves:
                coverage_png = _plot_coverage(curves, configs, base)
        oversight_png = None
        known = metric_names(cols, exp)
        if UTILIZATION in known and APPROVAL_WAIT in known:
            over = {(s.metric, s.config): s
                    for s in summarize(cols, exp, [UTILIZATION, APPROVAL_WAIT], confidence)}
            points = [(config_label(v), over[(UTILIZATION, i)].mean,
                       over[(APPROVAL_WAIT, i)].mean)
                      for i, v in configs
                      if not math.isnan(over[(UTILIZATION, i)].mean)
                      and not math.isnan(over[(APPROVAL_WAIT, i)].mean)]
            if points:
                oversight_png = _plot_oversight(points)

    parts.append("<h2>Plots</h2>")
    parts.append('<div class="plots">')
    for data, m in figures:
        parts.append(f"<figure>{_img(data, m + ' per configuration')}</figure>")
    parts.append("</div>")
    if coverage_png:
        parts.append("<h3>Coverage over time</h3>")
        parts.append(f"<figure>{_img(coverage_png, 'coverage over time per configuration')}"
                     "<figcaption>Covered fraction of the mission area, mean over each "
                     "configuration's finished runs.</figcaption></figure>")
    if oversight_png:
        parts.append("<h3>Operator utilisation vs approval wait</h3>")
        parts.append(f"<figure>{_img(oversight_png, 'operator utilisation vs approval wait')}"
                     "<figcaption>One point per configuration: means over its finished runs "
                     "(their confidence intervals are in the table of means when the "
                     "experiment reports these metrics).</figcaption></figure>")

    parts.append("<h2>Failed runs</h2>")
    failed = [(str(r), int(c), int(s), str(e or ""))
              for r, c, s, st, e in zip(cols["run_id"], cols["config"], cols["seed"],
                                        cols["status"], cols["error"], strict=True)
              if not _is_ok(st)]
    if failed:
        parts.append('<table><tr><th class="l">run</th><th class="l">configuration</th>'
                     '<th>seed</th><th class="l">error</th></tr>')
        labels = dict(configs)
        for run_id, cfg, seed, err in failed:
            parts.append(f'<tr><td class="l">{_e(run_id)}</td><td class="l">'
                         f"{_e(config_label(labels.get(cfg, {})))}</td><td>{seed}</td>"
                         f'<td class="l"><pre>{_e(err)}</pre></td></tr>')
        parts.append("</table>")
    else:
        parts.append("<p>None: every run finished.</p>")
    parts.append("</body>")
    parts.append("</html>")

    dest = Path(path) if path is not None else sweep.out_dir / REPORT
    dest.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return dest
