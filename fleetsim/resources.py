"""Files fleetsim ships besides its code: the browser replay viewer and the example
scenarios.

An installed package carries them inside itself (``fleetsim/viz/`` and
``fleetsim/scenarios/``, see ``setup.py``); a source checkout keeps them at the top of
the tree (``viz/`` and ``scenarios/``), which is where an editable install finds them.
"""

from __future__ import annotations

from pathlib import Path

#: The shipped folders: name inside the package and in the source tree -> a file each
#: must contain.
SHIPPED = {"viz": "index.html", "scenarios": "search_and_rescue.yaml"}


def candidates(name: str) -> list[Path]:
    """Where the folder ``name`` (a key of :data:`SHIPPED`) is looked for, in order:
    inside the package, then (in a source checkout) at the top of the tree."""
    package = Path(__file__).resolve().parent
    found = [package / name]
    if (package.parent / "pyproject.toml").is_file():  # a source checkout
        found.append(package.parent / name)
    return found


def shipped_dir(name: str) -> Path | None:
    """The first of :func:`candidates` that holds the folder's marker file, or None."""
    for path in candidates(name):
        if (path / SHIPPED[name]).is_file():
            return path
    return None
