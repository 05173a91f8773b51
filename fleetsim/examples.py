"""The example scenarios and experiments fleetsim ships (``fleetsim examples``).

They live in ``scenarios/`` of the source tree and in ``fleetsim/scenarios/`` of an
installed package (:mod:`fleetsim.resources`). Scenarios refer to their data files
(terrain grids under ``data/``) and experiments to their scenario by paths relative to
their own file, so they are copied as one tree: the copies run as they are.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from fleetsim.errors import FleetsimError
from fleetsim.resources import candidates, shipped_dir

#: Longest one-line description ``fleetsim examples`` prints.
SUMMARY_CHARS = 80


class ExamplesError(FleetsimError):
    """The example files cannot be found or copied where asked."""


@dataclass(frozen=True)
class Example:
    path: str  # relative to the examples folder, e.g. "experiments/operators_vs_rules.yaml"
    kind: str  # "scenario" or "experiment"
    summary: str  # the first sentence of its description, on one line


def examples_dir() -> Path:
    """The folder of the shipped example files."""
    path = shipped_dir("scenarios")
    if path is None:
        looked = " or ".join(str(p) for p in candidates("scenarios"))
        raise ExamplesError(f"the example scenarios were not found (looked in {looked}); "
                            "reinstall fleetsim")
    return path


def example_files(root: Path | None = None) -> list[Path]:
    """Every file of the examples folder (scenarios, experiments, data), relative to it."""
    root = root or examples_dir()
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def summary(text: str) -> str:
    """The first sentence of ``text`` on one line, cut at :data:`SUMMARY_CHARS`."""
    line = " ".join(str(text).split())
    end = line.find(". ")
    if end >= 0:
        line = line[:end + 1]
    if len(line) > SUMMARY_CHARS:
        line = line[:SUMMARY_CHARS - 3].rsplit(" ", 1)[0] + "..."
    return line


def list_examples(root: Path | None = None) -> list[Example]:
    """The example scenarios, then the example experiments, by path."""
    root = root or examples_dir()
    found = []
    for rel in example_files(root):
        if rel.suffix != ".yaml":
            continue
        data = yaml.safe_load((root / rel).read_text())
        if not isinstance(data, dict):
            continue
        kind = "experiment" if "experiment" in data else "scenario"
        found.append(Example(rel.as_posix(), kind, summary(data.get("description", ""))))
    return sorted(found, key=lambda e: (e.kind != "scenario", e.path))


def copy_examples(dest: Path, root: Path | None = None) -> list[Path]:
    """Copy every example file into ``dest`` (created if missing), keeping the folder
    layout; returns the paths written. Refuses, before writing anything, to overwrite a
    file."""
    root = root or examples_dir()
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ExamplesError(f"{dest}: exists and is not a folder; give a new or an "
                            "existing folder to copy the examples into")
    files = example_files(root)
    clash = [rel for rel in files if (dest / rel).exists()]
    if clash:
        more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
        raise ExamplesError(f"{dest / clash[0]}: already exists{more}; copy the examples "
                            "into a new or empty folder")
    written = []
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)
        written.append(target)
    return written
