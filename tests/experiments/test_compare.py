"""Comparing a sweep's configurations: summaries, paired differences, the report, the CLI.

The sweep folders are built here by hand (:func:`make_sweep`), in the format
``fleetsim sweep`` writes, so that these tests do not depend on the sweep runner.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from needs import require
from scipy import stats

from fleetsim.cli import EXIT_INPUT, EXIT_OK, main
from fleetsim.engine import Simulation
from fleetsim.experiments.compare import (
    CompareError,
    bootstrap_ci,
    paired_differences,
    read_sweep,
    report_html,
    resolve_baseline,
    resolve_metrics,
    summarize,
)
from fleetsim.metrics import compute_metrics
from fleetsim.rundir import write_run
from fleetsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SAR = ROOT / "scenarios" / "search_and_rescue.yaml"
OVERSIGHT = ROOT / "scenarios" / "oversight_tradeoff.yaml"
SEEDS = list(range(1, 11))

#: Search and rescue, short: 10 quadrotors, 10 simulated minutes (~0.05 s a run).
SAR_SHORT = ["run.duration_s=600",
             "fleet.types[0].bases={west_trailhead: 5, east_trailhead: 5}",
             "policy.params={}"]
#: The policy factor: "lawnmower_again" is the same configuration as "lawnmower".
POLICY = {"lawnmower": ["policy.name=lawnmower"],
          "random_search": ["policy.name=random_search"],
          "lawnmower_again": ["policy.name=lawnmower"]}
#: (configuration, seed) that the helper records as failed instead of running.
FAILED = {(2, 10)}


def make_sweep(out: Path, scenario: Path, factors: dict[str, dict[str, list[str]]],
               seeds: list[int], base: list[str], *, fail=frozenset(), baseline=None,
               metrics=None, description: str = "") -> Path:
    """Run the full factorial design of ``factors`` (factor -> level -> overrides)
    for ``seeds`` and write a sweep folder: experiment.json, results.parquet/.csv,
    runs/<run_id>/."""
    names = list(factors)
    configs = [dict(zip(names, combo, strict=True))
               for combo in itertools.product(*(list(factors[n]) for n in names))]
    experiment = {
        "experiment": out.name, "description": description, "scenario": str(scenario),
        "factors": [{"name": n, "levels": list(factors[n])} for n in names],
        "configs": [{"index": i, "values": v} for i, v in enumerate(configs)],
        "seeds": seeds, "baseline": baseline, "metrics": metrics,
    }
    out.mkdir(parents=True)
    rows = []
    for index, values in enumerate(configs):
        overrides = base + [o for n in names for o in factors[n][values[n]]]
        for seed in seeds:
            run_id = f"c{index:03d}-s{seed:04d}"
            row = {"run_id": run_id, "config": index, **values, "seed": seed}
            if (index, seed) in fail:
                rows.append({**row, "status": "error", "error": "PolicyError: boom"})
                continue
            run = Simulation(load_scenario(scenario, [*overrides, f"run.seed={seed}"])).run()
            m = compute_metrics(run)
            write_run(out / "runs" / run_id, run, m)
            rows.append({**row, "status": "ok", "error": "", "metrics": m})
    metric_names = sorted({k for r in rows for k in r.get("metrics", {})})
    columns: dict[str, list] = {c: [r[c] for r in rows]
                                for c in ["run_id", "config", *names, "seed", "status", "error"]}
    for k in metric_names:
        columns[k] = [r.get("metrics", {}).get(k) for r in rows]
    arrays = {c: pa.array(v, type=pa.float64()) if c in metric_names else pa.array(v)
              for c, v in columns.items()}
    table = pa.table(arrays)
    pq.write_table(table, out / "results.parquet")
    table.to_pandas().to_csv(out / "results.csv", index=False)
    (out / "experiment.json").write_text(json.dumps(experiment, indent=2))
    return out


@pytest.fixture(scope="module")
def sar(tmp_path_factory) -> Path:
    return make_sweep(tmp_path_factory.mktemp("sweeps") / "sar_policies", SAR, {"policy": POLICY},
                      SEEDS, SAR_SHORT, fail=FAILED, metrics=None,
                      description="Lawnmower against random search, & a copy of lawnmower.")


@pytest.fixture(scope="module")
def oversight(tmp_path_factory) -> Path:
    base = ["run.duration_s=600", "fleet.types[0].count=8"]
    ops = {"1": ["oversight.operators=1"], "3": ["oversight.operators=3"]}
    return make_sweep(tmp_path_factory.mktemp("sweeps") / "operators", OVERSIGHT,
                      {"operators": ops}, [1, 2], base, baseline={"operators": "3"},
                      metrics=["coverage.fraction", "oversight.approval_wait_mean_s"])


def values_of(sweep: Path, config: int, metric: str) -> dict[int, float]:
    t = pq.read_table(sweep / "results.parquet").to_pydict()
    return {s: v for c, s, st, v in zip(t["config"], t["seed"], t["status"], t[metric],
                                       strict=True)
            if c == config and st == "ok" and v is not None}


# --------------------------------------------------------------------------- summaries


def test_summary_matches_numpy(sar):
    sw = read_sweep(sar)
    rows = summarize(sw.table, sw.experiment, ["coverage.fraction", "fleet.distance_m"],
                     confidence=0.9)
    assert [(r.metric, r.config) for r in rows] == [
        ("coverage.fraction", 0), ("coverage.fraction", 1), ("coverage.fraction", 2),
        ("fleet.distance_m", 0), ("fleet.distance_m", 1), ("fleet.distance_m", 2)]
    for r in rows:
        x = np.array(list(values_of(sar, r.config, r.metric).values()))
        assert r.n == len(x) == (9 if r.config == 2 else 10)  # (2, 10) failed
        assert r.mean == pytest.approx(np.mean(x), rel=1e-12)
        assert r.sd == pytest.approx(np.std(x, ddof=1), rel=1e-12)
        half = stats.t.ppf(0.95, len(x) - 1) * np.std(x, ddof=1) / np.sqrt(len(x))
        assert r.half_width == pytest.approx(half, rel=1e-9)
        assert (r.ci_low, r.ci_high) == pytest.approx((np.mean(x) - half, np.mean(x) + half))
        assert r.values == {"policy": list(POLICY)[r.config]}


def test_summary_accepts_a_pandas_frame_and_the_csv(sar):
    pd = require("pandas", "summaries of pandas frames")
    sw = read_sweep(sar)
    a = summarize(sw.table, sw.experiment, ["coverage.fraction"])
    b = summarize(pd.read_parquet(sar / "results.parquet"), sw.experiment, ["coverage.fraction"])
    c = summarize(pd.read_csv(sar / "results.csv"), sw.experiment, ["coverage.fraction"])
    assert [(r.n, r.mean, r.ci_low) for r in a] == [(r.n, r.mean, r.ci_low) for r in b]
    assert [r.mean for r in c] == pytest.approx([r.mean for r in a])


def test_default_metrics_are_those_that_vary(sar):
    sw = read_sweep(sar)
    metrics = resolve_metrics(sw.table, sw.experiment)
    assert "coverage.fraction" in metrics and "fleet.distance_m" in metrics
    assert "fleet.vehicles" not in metrics  # 10 in every run
    assert "coverage.cells" not in metrics
    assert not any(m.startswith("oversight.") for m in metrics)  # no oversight: all null


# --------------------------------------------------------------------------- paired


def test_paired_comparison_detects_lawnmower_beats_random_search(sar):
    sw = read_sweep(sar)
    diffs = paired_differences(sw.table, sw.experiment, metrics=["coverage.fraction"])
    assert [d.config for d in diffs] == [1, 2]  # baseline: the first configuration
    d = diffs[0]
    assert d.baseline == 0 and d.values == {"policy": "random_search"}
    lawn, rand = values_of(sar, 0, "coverage.fraction"), values_of(sar, 1, "coverage.fraction")
    expected = np.array([rand[s] - lawn[s] for s in SEEDS])
    assert d.seeds == tuple(SEEDS)
    assert np.array_equal(d.differences, expected)
    assert d.mean == pytest.approx(expected.mean()) and d.mean < 0  # random search covers less
    ref = stats.ttest_rel([rand[s] for s in SEEDS], [lawn[s] for s in SEEDS])
    assert d.t == pytest.approx(ref.statistic) and d.p == pytest.approx(ref.pvalue)
    assert d.p < 0.01 and d.significant
    assert d.ci_high < 0
    assert d.boot_low < d.mean < d.boot_high < 0
    assert (d.config_mean, d.baseline_mean) == pytest.approx((np.mean(list(rand.values())),
                                                               np.mean(list(lawn.values()))))


def test_identical_configurations_differ_by_exactly_zero(sar, recwarn):
    sw = read_sweep(sar)
    diffs = paired_differences(sw.table, sw.experiment, metrics=["coverage.fraction",
                                                                 "fleet.distance_m"])
    for d in diffs:
        if d.config != 2:
            continue
        assert d.seeds == tuple(range(1, 10))  # seed 10 of the copy failed: not paired
        assert d.differences == (0.0,) * 9
        assert (d.mean, d.sd, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0, 0.0)
        assert (d.boot_low, d.boot_high) == (0.0, 0.0)
        assert d.p == 1.0 and not d.significant
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_constant_nonzero_differences_have_p_zero_without_warnings(recwarn):
    exp = {"factors": [{"name": "f", "levels": ["a", "b"]}],
           "configs": [{"index": 0, "values": {"f": "a"}}, {"index": 1, "values": {"f": "b"}}],
           "baseline": None, "metrics": None}
    table = {"run_id": list("abcdef"), "config": [0, 0, 0, 1, 1, 1],
             "f": ["a"] * 3 + ["b"] * 3, "seed": [1, 2, 3, 1, 2, 3], "status": ["ok"] * 6,
             "error": [""] * 6, "m": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5]}
    (d,) = paired_differences(table, exp, metrics=["m"])
    assert d.p == 0.0 and d.significant and d.mean == 0.5 and (d.ci_low, d.ci_high) == (0.5, 0.5)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    # fewer than two pairs: no test
    one = {k: v[:1] + v[3:4] for k, v in table.items()}
    (d,) = paired_differences(one, exp, metrics=["m"])
    assert d.n == 1 and math.isnan(d.p) and not d.significant


def test_bootstrap_is_seeded_and_brackets_the_mean():
    x = np.random.default_rng(5).exponential(size=12)
    a, b = bootstrap_ci(x), bootstrap_ci(x)
    assert a == b
    assert a[0] < x.mean() < a[1]
    assert bootstrap_ci(x, 0.99)[0] < a[0]


def test_baseline_by_partial_config_and_errors(sar):
    sw = read_sweep(sar)
    assert resolve_baseline(sw.experiment, {"policy": "random_search"}) == 1
    assert resolve_baseline(sw.experiment, ["policy=lawnmower_again"]) == 2
    diffs = paired_differences(sw.table, sw.experiment, {"policy": "random_search"},
                               ["coverage.fraction"])
    assert [d.config for d in diffs] == [0, 2] and diffs[0].mean > 0
    with pytest.raises(ValueError, match=r"no level 'spiral' of factor 'policy' \(levels: "
                                         r"lawnmower, random_search, lawnmower_again\)"):
        resolve_baseline(sw.experiment, {"policy": "spiral"})
    with pytest.raises(ValueError, match="no factor 'speed'"):
        resolve_baseline(sw.experiment, {"speed": "1"})
    two = {"factors": [{"name": "a", "levels": ["x", "y"]}, {"name": "b", "levels": ["u", "v"]}],
           "configs": [{"index": i, "values": {"a": a, "b": b}}
                       for i, (a, b) in enumerate(itertools.product("xy", "uv"))]}
    assert resolve_baseline(two, {"a": "y", "b": "u"}) == 2
    with pytest.raises(ValueError, match=r"matches 2 configurations \(#0 a=x, b=u; #1 a=x, b=v\)"):
        resolve_baseline(two, {"a": "x"})


def test_unknown_metric_suggests_a_close_name(sar):
    sw = read_sweep(sar)
    with pytest.raises(CompareError, match=r"unknown metric 'coverage.fractoin': did you mean "
                                           r"'coverage.fraction'"):
        summarize(sw.table, sw.experiment, ["coverage.fractoin"])


def sweep_layout(experiment: dict, typed: dict[str, type] | None = None) -> dict:
    """``experiment`` in the layout of fleetsim.experiments.spec (``Experiment.to_json``):
    levels as {name, value, overrides}, configs as {config, factors}, metrics [] for none;
    ``typed``: factors whose level values are numbers (path levels)."""
    typed = typed or {}
    conv = {f["name"]: typed.get(f["name"], str) for f in experiment["factors"]}
    out = dict(experiment)
    out["factors"] = [{"name": f["name"], "path": None, "kind": "named",
                       "levels": [{"name": lv, "value": conv[f["name"]](lv), "overrides": []}
                                  for lv in f["levels"]]} for f in experiment["factors"]]
    out["configs"] = [{"config": c["index"], "overrides": [],
                       "factors": {k: conv[k](v) for k, v in c["values"].items()}}
                      for c in experiment["configs"]]
    out["metrics"] = experiment["metrics"] or []
    if experiment["baseline"]:
        out["baseline"] = {k: conv[k](v) for k, v in experiment["baseline"].items()}
    return out


def test_the_sweep_runner_layout_of_experiment_json_gives_the_same_comparison(sar, oversight):
    sw = read_sweep(sar)
    new = sweep_layout(sw.experiment)
    assert "index" not in new["configs"][0] and new["metrics"] == []
    a = paired_differences(sw.table, sw.experiment, {"policy": "random_search"})
    b = paired_differences(sw.table, new, {"policy": "random_search"})
    assert [(d.metric, d.label, d.mean, d.p) for d in a] == \
        [(d.metric, d.label, d.mean, d.p) for d in b]
    ov = read_sweep(oversight)
    new = sweep_layout(ov.experiment, {"operators": int})
    assert new["baseline"] == {"operators": 3} and new["configs"][0]["factors"] == {"operators": 1}
    assert resolve_baseline(new) == 1  # the experiment's baseline, a number
    assert resolve_baseline(new, ["operators=1"]) == 0  # from the command line: text
    (s0, s1, *_) = summarize(ov.table, new)
    assert (s0.label, s1.label) == ("operators=1", "operators=3")
    with pytest.raises(CompareError, match=r"no level '2' of factor 'operators' \(levels: 1, 3\)"):
        resolve_baseline(new, {"operators": 2})


# --------------------------------------------------------------------------- report


def data_uri_pngs(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', text)]


def test_report_is_self_contained_complete_and_byte_stable(sar, tmp_path):
    a = report_html(sar)
    assert a == sar / "report.html"
    b = report_html(sar, tmp_path / "again.html")
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text()
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert re.findall(r'src="([^"]*)"', text) == [s for s in re.findall(r'src="([^"]*)"', text)
                                                 if s.startswith("data:image/png;base64,")]
    pngs = data_uri_pngs(text)
    n_metrics = len(resolve_metrics(read_sweep(sar).table, read_sweep(sar).experiment))
    assert len(pngs) == n_metrics + 1  # one per metric, and coverage over time
    for png in pngs:
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert b"Software" not in png and b"matplotlib" not in png.lower()
    assert "Lawnmower against random search, &amp; a copy of lawnmower." in text
    assert "lawnmower, random_search, lawnmower_again" in text  # factor levels
    assert "Coverage over time" in text
    assert "Operator utilisation" not in text  # no oversight in this scenario
    assert "c002-s0010" in text and "PolicyError: boom" in text  # the failed run
    assert "policy=random_search" in text and '<td class="yes">yes</td>' in text


def test_report_of_an_oversight_sweep_has_the_utilisation_plot(oversight):
    path = report_html(oversight)
    text = path.read_text()
    assert "Operator utilisation vs approval wait" in text
    # two metrics of the experiment + coverage over time + the oversight scatter
    assert len(data_uri_pngs(text)) == 4
    assert "operators=3 (baseline)" in text


# --------------------------------------------------------------------------- CLI


def test_cli_compare_prints_the_table_and_writes_the_report(sar, capsys):
    report = sar / "report.html"
    report.unlink(missing_ok=True)
    assert main(["compare", str(sar), "--metrics", "coverage.fraction", "fleet.distance_m",
                 "--confidence", "0.99"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "baseline: policy=lawnmower (configuration 0)" in out
    assert "99% CI" in out and "significant at 1%" in out
    block = out.split("coverage.fraction\n")[1].split("\n\n")[0].splitlines()
    assert block[0].split()[:3] == ["configuration", "n", "mean"]
    assert block[1].split()[0] == "policy=random_search" and block[1].rstrip().endswith("yes")
    assert re.search(r"policy=lawnmower_again\s+9\s+0\s+\[0, 0\]\s+\[0, 0\]\s+1\.0000\s+no",
                     block[2])
    assert report.is_file() and str(report) in err


def test_cli_compare_no_report_and_baseline(sar, capsys):
    report = sar / "report.html"
    report.unlink(missing_ok=True)
    assert main(["compare", str(sar), "--baseline", "policy=random_search",
                 "--metrics", "coverage.fraction", "--no-report"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "baseline: policy=random_search (configuration 1)" in out
    assert not report.exists()


@pytest.mark.parametrize("args, message", [
    (["--metrics", "coverage.fractoin"], "unknown metric 'coverage.fractoin': did you mean "
                                         "'coverage.fraction'?"),
    (["--baseline", "policy=spiral"], "baseline policy=spiral: no level 'spiral' of factor "
                                      "'policy' (levels: lawnmower, random_search, "
                                      "lawnmower_again)"),
    (["--baseline", "vehicles=3"], "no factor 'vehicles' (factors: policy)"),
    (["--baseline", "lawnmower"], "--baseline 'lawnmower': expected FACTOR=LEVEL"),
    (["--confidence", "95"], "confidence 95.0: expected a number between 0 and 1"),
])
def test_cli_compare_input_errors(sar, capsys, args, message):
    assert main(["compare", str(sar), *args, "--no-report"]) == EXIT_INPUT
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("fleetsim: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_compare_refuses_what_is_not_a_sweep_folder(tmp_path, capsys):
    assert main(["compare", str(tmp_path)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert f"{tmp_path}: not a sweep folder (no experiment.json" in err
    assert main(["compare", str(tmp_path / "nowhere")]) == EXIT_INPUT
    assert "no such sweep folder" in capsys.readouterr().err
    (tmp_path / "experiment.json").write_text(json.dumps({"factors": [], "configs": []}))
    assert main(["compare", str(tmp_path)]) == EXIT_INPUT
    assert "no results.parquet" in capsys.readouterr().err
