"""Every shell command and Python snippet of the docs works as written.

The docs are README.md, viz/README.md and every page of the documentation site
(docs/**/*.md, whatever pages it has).

The commands are taken from the fenced code blocks (```sh, ```bash, ```shell,
```console and unlabelled blocks whose lines start with a known program) and run,
in a copy of the repository (so that nothing lands in the checkout), with a
``.venv`` whose ``python``/``python3``/``fleetsim`` are this interpreter and its
``fleetsim``; ``dev.py``'s set-up step finds that environment installed and skips.
A non-zero exit fails.

A fenced block with a title (```` ```yaml title="my_first.yaml" ````) is a file
the page's reader writes: it is written into the copy (relative to the repository's
root) before any command runs. An untitled ```` ```python ```` block is a snippet:
it runs as a script from the root of the copy, in document order among the
commands (:data:`PYTHON_SHORTENED` may shorten it, with a reason).

A command runs as written unless :data:`SHORTENED` says otherwise: there, a long
command (a full-size run, a sweep) maps to the shortened form that stands for it,
and the command-line synopsis maps to concrete commands that use every option it
shows. A README command that is in neither fails (a new command cannot slip past
the test); so does a :data:`SHORTENED` entry that the READMEs no longer contain.
``fleetsim view`` runs until it prints its URL, which is fetched, then gets SIGINT
and must exit 0.
"""

from __future__ import annotations

import hashlib
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "viz/README.md",
        *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md"))]
#: What starts a command line in an unlabelled block.
PROGRAMS = ("fleetsim", "python3", "python", ".venv/bin/", "pip", "bash", "sh", "./")
TIMEOUT_S = 120

#: A tiny experiment for the sweep and compare synopsis lines (2 configurations x 2
#: seeds of a 1-minute search_and_rescue).
TINY_EXPERIMENT = """\
experiment: docs_tiny
scenario: scenarios/search_and_rescue.yaml
set: ["run.duration_s=60"]
factors:
  speed: {path: "fleet.types[0].cruise_speed_mps", levels: [10, 14]}
replications: 2
"""

#: The sea-rescue page's experiment at a size for the test: the same patterns, 2 seeds of
#: 15 minutes instead of 20 of 90 (written next to the scenarios' copy).
SEA_EXPERIMENT_CHANGES = {"replications": 2, "set": ["run.duration_s=900"],
                          "scenario": "scenarios/sea_rescue.yaml"}
SEA_SWEEP = ("fleetsim sweep docs_sea.yaml --out runs/sweeps/sea_rescue_patterns --workers 2 "
             "-q")
SEA_PYTHON = ("python -c \"import pandas as pd; e = pd.read_parquet('runs/sea_rescue/"
              "events.parquet'); p = e[e.kind == 'search_pod']; print(p.groupby('vehicle')"
              ".value.agg(['count', 'sum', 'max']))\"")

#: Runs that several commands read, made once per session when first needed.
PREREQUISITES = {
    "runs/sea_rescue": ["fleetsim run scenarios/sea_rescue.yaml --out runs/sea_rescue -q"],
    "runs/sweeps/sea_rescue_patterns": [SEA_SWEEP],
    # a one-minute run with its replay bundle: short enough to re-fly in physics
    "runs/brief": ["fleetsim run scenarios/search_and_rescue.yaml --out runs/brief "
                   "--set run.duration_s=60 -q"],
    "runs/shots/wildfire_watch": ["fleetsim run scenarios/wildfire_watch.yaml "
                                  "--set run.duration_s=120 --out runs/shots/wildfire_watch -q"],
    "sweeps/tiny": ["fleetsim sweep docs_tiny.yaml --out sweeps/tiny --workers 2 --replay -q"],
}


@dataclass(frozen=True)
class Short:
    """The commands that stand for a README command, and the runs they read."""
    commands: tuple[str, ...]
    needs: tuple[str, ...] = ()
    why: str = ""


#: README command (as written, comment removed) -> what runs instead. A value of
#: ``None`` with a reason: not run.
SHORTENED: dict[str, Short | str] = {
    "python3 dev.py test":
        "it runs this very test suite (it would recurse); the suite is what runs this test",
    ".venv/bin/python scripts/oversight_tradeoff.py": Short(
        (".venv/bin/python scripts/oversight_tradeoff.py --operators 1 --rule-sets strict",),
        why="24 runs; one operator count under one rule set (2 runs) exercises the script"),
    # The command-line synopsis: each line by concrete commands with all its options.
    "fleetsim run SCENARIO [--out DIR] [--seed N] [--set PATH=VALUE ...] [--no-replay] [-q]":
        Short(("fleetsim run scenarios/search_and_rescue.yaml --out runs/synopsis --seed 3 "
               "--set run.duration_s=120 --set policy.name=random_search --no-replay -q",
               "fleetsim run scenarios/search_and_rescue.yaml --set run.duration_s=60",)),
    "fleetsim validate SCENARIO [--set PATH=VALUE ...]":
        Short(("fleetsim validate scenarios/wildfire_watch.yaml",
               "fleetsim validate scenarios/search_and_rescue.yaml --set policy.name=random_search "
               "--set policy.params={}",)),
    "fleetsim metrics RUN_DIR": Short(("fleetsim metrics runs/brief",), ("runs/brief",)),
    "fleetsim plot RUN_DIR": Short(("fleetsim plot runs/brief",), ("runs/brief",)),
    "fleetsim policies": Short(("fleetsim policies",)),
    "fleetsim view RUN_DIR [--port N] [--host 127.0.0.1] [--no-browser]":
        Short(("fleetsim view runs/brief --no-browser",
               "fleetsim view runs/brief --port 0 --host 127.0.0.1 --no-browser"),
              ("runs/brief",)),
    "fleetsim replay RUN_DIR [--chunk-s S] [--buckets N]":
        Short(("fleetsim replay runs/brief", "fleetsim replay runs/brief --chunk-s 30 --buckets 10"),
              ("runs/brief",)),
    "fleetsim sweep EXPERIMENT [--out DIR] [--workers N] [--scheduler tcp://HOST:PORT] "
    "[--retry-errors] [--force] [--replay] [-q]":
        Short(("fleetsim sweep docs_tiny.yaml --out sweeps/tiny --retry-errors",
               "fleetsim sweep docs_tiny.yaml --out sweeps/forced --workers 2 --force -q"),
              ("sweeps/tiny",),  # made with --workers 2 --replay -q
              why="--scheduler needs a running Dask cluster; not exercised here"),
    "fleetsim compare SWEEP_DIR [--baseline FACTOR=LEVEL ...] [--metrics M ...] "
    "[--confidence 0.95] [--no-report]":
        Short(("fleetsim compare sweeps/tiny --baseline speed=10 --metrics coverage.fraction "
               "fleet.distance_m --confidence 0.9",
               "fleetsim compare sweeps/tiny --no-report"), ("sweeps/tiny",)),
    # docs/sea-rescue.md: the pattern comparison's sweep, shortened; what reads its runs.
    "fleetsim sweep scenarios/experiments/sea_rescue_patterns.yaml "
    "--out runs/sweeps/sea_rescue_patterns": Short(
        (SEA_SWEEP,), why="60 runs of 90 minutes; the same 3 patterns x 2 seeds of 15 minutes"),
    "fleetsim compare runs/sweeps/sea_rescue_patterns": Short(
        ("fleetsim compare runs/sweeps/sea_rescue_patterns",),
        ("runs/sweeps/sea_rescue_patterns",)),
    SEA_PYTHON: Short((SEA_PYTHON,), ("runs/sea_rescue",), why="it reads the run above"),
    # viz/README.md: the screenshots' runs and the script that takes them.
    "fleetsim run scenarios/wildfire_watch.yaml --set run.duration_s=3600 "
    "--out /tmp/runs/wildfire_watch": Short(
        ("fleetsim run scenarios/wildfire_watch.yaml --set run.duration_s=120 "
         "--out runs/shots/wildfire_watch -q",), why="two minutes of the same run"),
    "fleetsim run scenarios/coastal_patrol.yaml --set run.duration_s=3600 "
    "--out /tmp/runs/coastal_patrol": Short(
        ("fleetsim run scenarios/coastal_patrol.yaml --set run.duration_s=120 "
         "--out runs/shots/coastal_patrol -q",), why="two minutes of the same run"),
    "fleetsim run scenarios/city_delivery.yaml  --set run.duration_s=3600 "
    "--out /tmp/runs/city_delivery": Short(
        ("fleetsim run scenarios/city_delivery.yaml --set run.duration_s=120 "
         "--out runs/shots/city_delivery -q",), why="two minutes of the same run"),
    "fleetsim run scenarios/swarm_10k.yaml      --set run.duration_s=900  "
    "--out /tmp/runs/swarm_10k --set outputs.replay=true": Short(
        ("fleetsim run scenarios/swarm_10k.yaml --set run.duration_s=60 "
         "--set 'fleet.types[0].bases={sw: 50, se: 50, nw: 50, ne: 50}' "
         "--set outputs.replay=true --out runs/shots/swarm_10k -q",),
        why="one minute of 200 of its drones"),
    "fleetsim run scenarios/search_and_rescue.yaml --set run.duration_s=3600 --set "
    "\"world.wind={speed_mps: 8, from_deg: 250, changes: [{t_s: 1800, speed_mps: 12, "
    "from_deg: 300}]}\" --set \"missions[0].drift={current_mps: [0.8, 0.3], leeway: 0.03, "
    "random_mps: 0.1}\" --out /tmp/runs/search_and_rescue_wind": Short(
        ("fleetsim run scenarios/search_and_rescue.yaml --set run.duration_s=300 --set "
         "\"world.wind={speed_mps: 8, from_deg: 250, changes: [{t_s: 150, speed_mps: 12, "
         "from_deg: 300}]}\" --set \"missions[0].drift={current_mps: [0.8, 0.3], "
         "leeway: 0.03, random_mps: 0.1}\" --out runs/shots/search_and_rescue_wind -q",),
        why="five minutes of the same run"),
    "fleetsim run scenarios/sea_rescue.yaml --out /tmp/runs/sea_rescue": Short(
        ("fleetsim run scenarios/sea_rescue.yaml --set run.duration_s=600 "
         "--out runs/shots/sea_rescue -q",), why="ten minutes of the same run, in the workspace"),
    "python viz/screenshots/take.py /tmp/runs/*": Short(
        ("python viz/screenshots/take.py runs/shots/wildfire_watch --out shots",),
        ("runs/shots/wildfire_watch",), why="one run's three screenshots"),
    "fleetsim export RUN_DIR --format geojson|czml|kml|kepler|intents|qgc [--out FILE] "
    "[--vehicles ID ...] [--every S] [--start DATETIME]":
        Short(("fleetsim run scenarios/zurich_streets.yaml --set run.duration_s=600 "
               "--out runs/zurich_short -q",
               "fleetsim export runs/zurich_short --format geojson --out zurich.geojson "
               "--vehicles 0 2 --every 30 --start 2026-06-01T08:00:00Z",
               "fleetsim export runs/zurich_short --format qgc --vehicles 2")),
    "fleetsim examples [copy DIR]":
        Short(("fleetsim examples", "fleetsim examples copy my_examples")),
    "fleetsim fidelity RUN_DIR [--vehicles N | --vehicle ID ...] [--out DIR] [--seed N] "
    "[--wind X,Y,Z] [--gusts SD] [--calibrate]":
        Short(("fleetsim fidelity runs/brief --vehicles 1 --out fidelity --seed 1 --wind 2,0,0 "
               "--gusts 0.5 --calibrate",), ("runs/brief",),
              why="re-flying in 240 Hz physics: the one-minute run; --vehicle ID is the "
                  "other half of an exclusive choice"),
}


#: Python snippet of a page (its first line) -> (text to replace, replacement, reason):
#: a snippet that would run too long for the suite is run with the replacement.
PYTHON_SHORTENED: dict[str, tuple[str, str, str]] = {
}


# ------------------------------------------------------------------ reading the docs

BLOCK = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```", re.S | re.M)


def doc_files() -> dict[str, str]:
    """Files the docs write (titled fenced blocks): path -> text."""
    files: dict[str, str] = {}
    for name in DOCS:
        for m in BLOCK.finditer((ROOT / name).read_text()):
            title = re.search(r'title="([^"]+)"', m.group(2))
            if title:
                assert title.group(1) not in files, f"{name}: {title.group(1)} written twice"
                files[title.group(1)] = m.group(3)
    return files


def doc_snippets() -> list[tuple[str, int, str]]:
    """(file, line, code) for every untitled Python block of the docs."""
    found = []
    for name in DOCS:
        text = (ROOT / name).read_text()
        for m in BLOCK.finditer(text):
            if m.group(1).lower() in ("python", "py") and "title=" not in m.group(2):
                found.append((name, text[:m.start()].count("\n") + 2, m.group(3)))
    return found

def strip_comment(line: str) -> str:
    """The line without a trailing shell comment (`` # ...``)."""
    return re.sub(r"\s+#.*$", "", line).strip()


def doc_commands() -> list[tuple[str, int, str]]:
    """(file, line, command) for every command in the docs' fenced blocks."""
    found = []
    for name in DOCS:
        text = (ROOT / name).read_text()
        for m in BLOCK.finditer(text):
            lang = m.group(1).lower()
            if lang not in ("", "sh", "bash", "shell", "console") or "title=" in m.group(2):
                continue
            first = text[:m.start()].count("\n") + 2
            for i, raw in enumerate(m.group(3).splitlines()):
                line = raw.strip()
                if lang == "console":
                    if not line.startswith("$ "):
                        continue  # output
                    line = line[2:]
                command = strip_comment(line)
                if not command or line.startswith("#"):
                    continue
                if lang == "" and not command.startswith(PROGRAMS):
                    continue  # an unlabelled block of something else
                found.append((name, first + i, command))
    return found


COMMANDS = doc_commands()
SNIPPETS = doc_snippets()
#: Every step of the docs in document order: (file, line, "sh" | "python", text).
STEPS = sorted([(n, ln, "sh", c) for n, ln, c in COMMANDS] +
               [(n, ln, "python", c) for n, ln, c in SNIPPETS],
               key=lambda s: (DOCS.index(s[0]), s[1]))


def test_the_docs_have_commands_and_the_table_has_no_stale_entries():
    assert {c for _, _, c in COMMANDS} >= {"python3 dev.py demo", "fleetsim policies"}
    stale = sorted(set(SHORTENED) - {c for _, _, c in COMMANDS})
    assert not stale, f"SHORTENED names commands no longer in the docs: {stale}"
    firsts = {code.splitlines()[0] for _, _, code in SNIPPETS}
    stale = sorted(set(PYTHON_SHORTENED) - firsts)
    assert not stale, f"PYTHON_SHORTENED names snippets no longer in the docs: {stale}"
    for _, _, code in SNIPPETS:
        short = PYTHON_SHORTENED.get(code.splitlines()[0])
        assert short is None or short[0] in code, f"{short[0]!r} not in its snippet"


def test_the_synopsis_shows_only_options_the_parser_has():
    from fleetsim.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    for name, line, command in COMMANDS:
        words = command.split()
        if Path(words[0]).name != "fleetsim":
            continue
        if words[1].startswith("-"):  # an option of fleetsim itself (--version)
            sub, rest = parser, words[1:]
        else:
            sub, rest = subparsers.choices.get(words[1]), words[2:]
        assert sub is not None, f"{name}:{line}: no subcommand {words[1]!r}"
        known = {s for a in sub._actions for s in a.option_strings}
        shown = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", " ".join(rest)))
        assert shown <= known, f"{name}:{line}: {sorted(shown - known)} unknown to the parser"


# ------------------------------------------------------------------ running them

@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy of the repository with a ``.venv`` that is this interpreter; the
    environment to run commands in."""
    work = tmp_path_factory.mktemp("docs") / "fleetsim"
    shutil.copytree(ROOT, work, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
        "test-artifacts", "build", "site"))
    venv = work.parent / "venv"
    (venv / "bin").mkdir(parents=True)
    real_bin = Path(sys.executable).parent
    fleetsim = shutil.which("fleetsim", path=str(real_bin))
    wrappers = {"python": f'exec "{sys.executable}" "$@"',
                "python3": f'exec "{sys.executable}" "$@"',
                "fleetsim": (f'exec "{fleetsim}" "$@"' if fleetsim else
                             f'exec "{sys.executable}" -m fleetsim.cli "$@"')}
    for prog, body in wrappers.items():
        path = venv / "bin" / prog
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    # dev.py's set-up: this environment counts as installed for this pyproject.toml
    digest = hashlib.sha256((work / "pyproject.toml").read_bytes()).hexdigest()
    for extras in ("base", "test"):
        (venv / f".installed-{extras}").write_text(digest)
    (work / ".venv").symlink_to(venv)
    (work / "docs_tiny.yaml").write_text(TINY_EXPERIMENT)
    for rel, text in doc_files().items():
        path = work / rel
        assert not path.exists(), f"a docs block titled {rel} would overwrite a file"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sea = yaml.safe_load((ROOT / "scenarios/experiments/sea_rescue_patterns.yaml").read_text())
    (work / "docs_sea.yaml").write_text(yaml.safe_dump({**sea, **SEA_EXPERIMENT_CHANGES}))
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(work), "FLEETSIM_VENV": str(venv)}
    env.pop("FORCE_COLOR", None)
    return work, env


_made: set[str] = set()


def run_command(command: str, work: Path, env: dict[str, str]) -> None:
    argv = shlex.split(command)
    if len(argv) > 1 and Path(argv[0]).name == "fleetsim" and argv[1] == "view":
        return run_view(argv, work, env)
    try:
        res = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True,
                             timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command!r} ran over {TIMEOUT_S} s: give it a shortened form in "
                    "SHORTENED", pytrace=False)
    assert res.returncode == 0, f"{command!r} exited {res.returncode}:\n{res.stderr[-3000:]}"
    assert "Traceback" not in res.stderr, res.stderr[-3000:]


def run_view(argv: list[str], work: Path, env: dict[str, str]) -> None:
    """Start ``fleetsim view``, fetch the URL it prints, stop it with SIGINT."""
    proc = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        url = proc.stdout.readline().strip() if ready else ""
        assert url.startswith("http://"), f"{' '.join(argv)}: no URL printed ({url!r})"
        with urllib.request.urlopen(url, timeout=10) as res:
            assert res.status == 200 and b"<canvas" in res.read()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert proc.returncode == 0 and "Traceback" not in err, err


def run_snippet(where: str, code: str, work: Path, env: dict[str, str]) -> None:
    short = PYTHON_SHORTENED.get(code.splitlines()[0])
    if short is not None:
        code = code.replace(short[0], short[1])
    script = work / "_docs_snippet.py"
    script.write_text(code)
    try:
        res = subprocess.run([sys.executable, str(script)], cwd=work, env=env,
                             capture_output=True, text=True, timeout=TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{where}: the snippet ran over {TIMEOUT_S} s: shorten it in "
                    "PYTHON_SHORTENED", pytrace=False)
    finally:
        script.unlink(missing_ok=True)
    assert res.returncode == 0, f"{where}: the snippet exited {res.returncode}:\n" \
                                f"{res.stderr[-3000:]}"


@pytest.mark.parametrize("where, kind, command", [(f"{n}:{ln}", k, c) for n, ln, k, c in STEPS],
                         ids=[f"{n}:{ln}" for n, ln, _, _ in STEPS])
def test_documented_command_runs(where, kind, command, workspace):
    work, env = workspace
    if kind == "python":
        return run_snippet(where, command, work, env)
    entry = SHORTENED.get(command)
    if isinstance(entry, str):
        # Not run here (it is the suite itself): CI runs it, so .ci/run must say it as
        # the README does.
        ci = (ROOT / ".ci" / "run").read_text()
        assert command in ci.splitlines(), f"{where}: {entry}; but .ci/run does not run it"
        return
    t0 = time.perf_counter()
    if entry is None:
        run_command(command, work, env)  # as written
    else:
        for need in entry.needs:
            if need not in _made:
                for prep in PREREQUISITES[need]:
                    run_command(prep, work, env)
                _made.add(need)
        for concrete in entry.commands:
            run_command(concrete, work, env)
    # every command of the docs together is to stay near 2 minutes on 2 cores
    assert time.perf_counter() - t0 < TIMEOUT_S
