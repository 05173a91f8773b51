"""What a test needs beyond the code under test, and what happens when it is missing.

Outside CI a test whose requirement is missing (an optional module, Chromium, a
POSIX system call) is skipped, with the reason. In CI (``CI=true``, which ``.ci/run``
exports) nothing may be skipped: the same test fails, so a browser, pybullet or
rasterio test cannot silently stop running there. ``tests/conftest.py`` also turns
any other skip (``pytest.skip``, ``skipif``, ``importorskip``) into a failure in CI.

Use at module level or inside a test::

    from needs import require
    pybullet = require("pybullet", "the fidelity tests fly the model in pybullet")
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = ["in_ci", "missing", "require"]

#: Values of the CI variable that mean "running in CI" (GitHub, GitLab and most
#: others set CI=true).
CI_VALUES = ("true", "1", "yes")


def in_ci() -> bool:
    """Whether the tests run in CI (environment variable ``CI`` set to true)."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def missing(message: str) -> NoReturn:
    """Skip the current test or module with ``message``; in CI, fail it instead.

    Parameters
    ----------
    message : str
        What is missing and what it is for.
    """
    if in_ci():
        pytest.fail(f"{message} -- required in CI (CI=true), where nothing may be skipped",
                    pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require(module: str, why: str) -> ModuleType:
    """Import and return ``module``; when it cannot be imported, :func:`missing`.

    Parameters
    ----------
    module : str
        Dotted module name.
    why : str
        What the tests need it for (goes into the skip or failure message).

    Returns
    -------
    ModuleType
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        error = str(exc)
    missing(f"cannot import {module} ({error}): {why}")  # outside the except: no chaining
