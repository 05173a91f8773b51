"""fleetsim: event-driven simulation of large autonomous fleets under human oversight."""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]

_VERSION: str | None = None


def _find_version() -> str:
    """fleetsim's version: from git when this is a git checkout (setuptools-scm, the
    same rule the build uses), else the one written at build or install time
    (``fleetsim/_version.py``), else the installed distribution's, else ``0+unknown``."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists() and (root / "pyproject.toml").is_file():
        import logging
        import warnings

        # Quietly: its warnings (a shallow clone, ...) are no business of fleetsim's output.
        loggers = [logging.getLogger(n) for n in ("setuptools_scm", "vcs_versioning")]
        levels = [lg.level for lg in loggers]
        try:
            for lg in loggers:
                lg.setLevel(logging.ERROR + 1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from setuptools_scm import Configuration, get_version

                config = Configuration.from_file(str(root / "pyproject.toml"), root=str(root))
                return get_version(root=str(root), version_scheme=config.version_scheme,
                                   local_scheme=config.local_scheme,
                                   fallback_version=config.fallback_version)
        except Exception:  # no setuptools-scm, or git failed: the next source
            pass
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
    try:
        from fleetsim._version import version

        return str(version)
    except ImportError:
        pass
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("fleetsim")
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    # The version is looked up on first use only (from git it takes a subprocess).
    global _VERSION
    if name == "__version__":
        if _VERSION is None:
            _VERSION = _find_version()
        return _VERSION
    raise AttributeError(f"module 'fleetsim' has no attribute {name!r}")
