"""``fleetsim examples``: the shipped example scenarios, listed and copied so they run."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsim.cli import main
from fleetsim.examples import (
    ExamplesError,
    copy_examples,
    example_files,
    examples_dir,
    list_examples,
    summary,
)
from fleetsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_in_a_checkout_the_examples_are_the_scenarios_folder():
    assert examples_dir() == ROOT / "scenarios"
    files = {p.as_posix() for p in example_files()}
    assert {"search_and_rescue.yaml", "data/harbor_dem.npy",
            "experiments/operators_vs_rules.yaml"} <= files
    assert files == {p.relative_to(ROOT / "scenarios").as_posix()
                     for p in (ROOT / "scenarios").rglob("*") if p.is_file()}


def test_summary_is_the_first_sentence_on_one_line_cut_at_a_word():
    assert summary("A valley\n  region.  Then more. And more.") == "A valley region."
    long = "word " * 30
    cut = summary(long)
    assert cut.endswith("word...") and len(cut) <= 80
    assert summary("") == ""


def test_list_prints_every_scenario_then_every_experiment(capsys):
    assert main(["examples"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Example scenarios (fleetsim run FILE):"
    scenarios = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
    listed = [line.split()[0] for line in out[1:1 + len(scenarios)]]
    assert listed == scenarios
    sar = next(line for line in out if line.startswith("  search_and_rescue.yaml"))
    assert sar.split(None, 1)[1] == ("Lawnmower search of a valley for 40 hidden targets "
                                     "with 20 quadrotors.")
    assert out[1 + len(scenarios)] == "Example experiments (fleetsim sweep FILE):"
    assert out[2 + len(scenarios)].split()[0] == "experiments/operators_vs_rules.yaml"
    assert out[-1].startswith(f"In {ROOT / 'scenarios'}; fleetsim examples copy DIR")
    assert main(["examples", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == out
    kinds = [e.kind for e in list_examples()]
    experiments = sorted((ROOT / "scenarios" / "experiments").glob("*.yaml"))
    assert kinds == ["scenario"] * len(scenarios) + ["experiment"] * len(experiments)


def test_copy_writes_every_file_and_the_copies_load_with_their_data(tmp_path, capsys):
    dest = tmp_path / "new" / "examples"
    assert main(["examples", "copy", str(dest)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"fleetsim: copied {len(example_files())} example files into {dest}")
    for rel in example_files():
        assert (dest / rel).read_bytes() == (ROOT / "scenarios" / rel).read_bytes()
    # The harbour scenario's terrain is data/harbor_dem.npy, relative to the scenario file.
    harbor = load_scenario(dest / "harbor_resupply.yaml")
    assert Path(harbor.base_dir) == dest
    assert main(["validate", str(dest / "harbor_resupply.yaml")]) == 0


def test_copy_overwrites_nothing_and_says_which_file_is_in_the_way(tmp_path, capsys):
    (tmp_path / "wildfire_watch.yaml").write_text("mine\n")
    assert main(["examples", "copy", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"fleetsim: error: {tmp_path / 'wildfire_watch.yaml'}: already exists; "
                   "copy the examples into a new or empty folder")
    assert [p.name for p in tmp_path.iterdir()] == ["wildfire_watch.yaml"]
    assert (tmp_path / "wildfire_watch.yaml").read_text() == "mine\n"


def test_copy_into_a_file_is_refused(tmp_path):
    target = tmp_path / "a_file"
    target.write_text("")
    with pytest.raises(ExamplesError, match="exists and is not a folder"):
        copy_examples(target)


def test_shipped_folders_are_looked_for_in_the_package_then_in_the_checkout(monkeypatch):
    from fleetsim import resources
    from fleetsim.errors import RunDirError
    from fleetsim.replay import writer

    assert resources.candidates("viz") == [ROOT / "fleetsim" / "viz", ROOT / "viz"]
    assert resources.shipped_dir("viz") == ROOT / "viz"
    assert resources.shipped_dir("scenarios") == ROOT / "scenarios"
    monkeypatch.delenv("FLEETSIM_VIZ_DIR", raising=False)
    assert writer.viewer_dir() == ROOT / "viz"
    monkeypatch.setattr(writer, "shipped_dir", lambda name: None)
    with pytest.raises(RunDirError) as err:
        writer.viewer_dir()
    assert str(err.value) == (
        f"the replay viewer was not found (no index.html in {ROOT / 'fleetsim' / 'viz'} or "
        f"{ROOT / 'viz'}); reinstall fleetsim (pip install fleetsim, or pip install -e . in "
        "its source tree) or set FLEETSIM_VIZ_DIR to the viz/ folder")
