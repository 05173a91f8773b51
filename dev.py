#!/usr/bin/env python3
"""Set up fleetsim in a local virtual environment and run the demo or the tests.

    python3 dev.py demo    # set up, then run the demo scenario end to end and print its metrics
    python3 dev.py test    # set up (test extras too), then run the test suite

Needs only Python 3.11+ and the package index. The environment lives in .venv/;
set FLEETSIM_VENV to put it elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("FLEETSIM_VENV", ROOT / ".venv"))
PY = VENV / "bin" / "python"
DEMO = ROOT / "scenarios" / "search_and_rescue.yaml"


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def setup(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may run on an older Python)
        sys.exit(f"fleetsim needs Python >= 3.11 (this is {sys.version.split()[0]})")
    if not PY.exists():
        run([sys.executable, "-m", "venv", VENV])
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    run([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    run([PY, "-m", "pip", "install", "--quiet", "-e", target])
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else "demo"
    if what == "demo":
        setup("")
        run([VENV / "bin" / "fleetsim", "run", DEMO, "--out", ROOT / "runs" / "demo", *argv[2:]])
        return 0
    if what == "test":
        setup("test")
        extra = ROOT / ".ci" / "system-deps"
        if extra.exists():
            run(["bash", extra])
        run([PY, "-m", "pytest", "-q", *argv[2:]], cwd=ROOT)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode or 1)
