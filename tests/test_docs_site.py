"""The documentation site builds in strict mode, offline, and its generated
references cover the code: every scenario key, every metric a run writes, every
built-in policy; every command-line argument has help text.

``mkdocs build --strict`` turns every warning into an error: a broken internal link
or anchor, a page missing from the nav, a docstring mkdocstrings cannot find.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fleetsim.docgen import GENERATED, action_types_in_source
from fleetsim.metrics import catalog

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                          "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"mkdocs build --strict failed:\n{res.stdout}\n{res.stderr}"
    return out


def test_every_page_is_built_and_reachable_from_the_nav(site):
    pages = sorted(p.relative_to(ROOT / "docs").with_suffix(".html").as_posix()
                   for p in (ROOT / "docs").rglob("*.md"))
    pages += [p.removesuffix(".md") + ".html" for p in GENERATED]
    index = (site / "index.html").read_text()
    for page in pages:
        assert (site / page).is_file(), page
        assert f'href="{page}"' in index, f"{page} is not in the site's navigation"


def test_the_site_fetches_nothing_from_the_network(site):
    """No script, stylesheet, font or image from another host: it works offline."""
    remote = re.compile(r"""(?:<script[^>]*\ssrc|<link[^>]*\shref|<img[^>]*\ssrc)=["']?(?:https?:)?//""",
                        re.I)
    css_url = re.compile(r"""url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//""", re.I)
    for path in site.rglob("*"):
        if path.suffix == ".html":
            found = remote.findall(path.read_text())
            assert not found, f"{path.relative_to(site)} loads {found[:3]} from the network"
        elif path.suffix == ".css":
            found = css_url.findall(path.read_text(errors="replace"))
            assert not found, f"{path.relative_to(site)} fetches {found[:3]}"


def test_the_scenario_reference_lists_every_key(site):
    from fleetsim.scenario.reference import entries

    page = (site / "reference" / "scenario.html").read_text()
    keys = entries()
    assert len(keys) > 100
    missing = [e.path for e in keys if f"<code>{e.key}</code>" not in page]
    assert not missing, f"keys missing from the scenario reference: {missing[:10]}"


def test_the_metrics_reference_lists_every_declared_metric(site):
    page = (site / "reference" / "metrics.html").read_text()
    for m in catalog.METRICS:
        name = m.name.replace("<", "&lt;").replace(">", "&gt;")
        assert f"<code>{name}</code>" in page, m.name
    for name in ("oversight.vetoes", "oversight.veto_reviews", "oversight.operators"):
        assert catalog.declaration(name) is not None


def test_the_policy_api_page_documents_shapes_and_zone_windows(site):
    page = (site / "reference" / "policy-api.html").read_text()
    for text in ("(m, 3)", "active_at", "start_s", "end_s", "polygon", "approval_denied",
                 "GoTo", "Route", "Survey", "Hold", "ReturnHome", "Pickup", "Deliver",
                 "check_policy", "travel_time_s", "above the terrain datum",
                 # attribute docs written as #: comments (scripts/griffe_comment_docs.py)
                 "on the ground at t = 0", "cruise speed, m/s", "(inclusive)",
                 "payload capacity, kg"):
        assert text in page, text


# ------------------------------------------------------------------ metrics declared

def test_every_metric_of_real_runs_is_declared(tmp_path):
    """The golden runs' metrics (surveillance, oversight, comms, separation, logistics
    of every domain) and a fresh short run: each key has a declaration."""
    from fleetsim.engine import Simulation
    from fleetsim.metrics import compute_metrics
    from fleetsim.scenario import load_scenario

    names: set[str] = set()
    for f in (ROOT / "tests" / "golden").glob("*.metrics.json"):
        import json

        names |= set(json.loads(f.read_text()))
    run = Simulation(load_scenario(ROOT / "scenarios" / "shared_airspace.yaml",
                                   ["run.duration_s=120"])).run()
    names |= set(compute_metrics(run))
    names = {catalog.canonical_name(n) for n in names}
    assert {"safety.los_count", "oversight.vetoes", "logistics.utilization.sea"} <= names
    assert catalog.undeclared(names) == []


def test_an_undeclared_metric_is_caught():
    assert catalog.undeclared(["coverage.fraction", "coverage.fractoin",
                               "logistics.utilization.space"]) == [
        "coverage.fractoin", "logistics.utilization.space"]


def test_every_declared_metric_is_written_by_some_run():
    """No declaration of a metric that no longer exists (from the golden runs)."""
    import json

    names: set[str] = set()
    for f in (ROOT / "tests" / "golden").glob("*.metrics.json"):
        names |= {catalog.canonical_name(n) for n in json.loads(f.read_text())}
    unused = [m.name for m in catalog.METRICS
              if not any(catalog.declaration(n) == m for n in names)]
    assert unused == []


# ------------------------------------------------------------------ built-in policies

def test_the_policy_table_reads_the_action_types_from_the_source():
    from fleetsim.policy import policy_class

    assert action_types_in_source(policy_class("persistent_patrol")) == ("Route",)
    assert {"Pickup", "Deliver"} <= set(action_types_in_source(policy_class("vrp_planner")))


# ------------------------------------------------------------------ --help

def _parsers(parser: argparse.ArgumentParser, path: str = "fleetsim"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_argument_of_every_subcommand_has_help():
    from fleetsim.cli import build_parser

    seen = 0
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            seen += 1
            name = "/".join(action.option_strings) or action.dest
            assert action.help and action.help is not argparse.SUPPRESS, \
                f"{path}: argument {name} has no help text"
    assert seen > 30
    # and every subcommand says what it does in `fleetsim --help`
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    described = {a.dest: a.help for a in sub._choices_actions}
    assert set(described) == set(sub.choices)
    assert all(described.values()), [k for k, v in described.items() if not v]
