"""Suite-wide settings: in CI (``CI=true``) no test may be skipped.

A skip reported by any means (``pytest.skip``, ``skipif`` marks, ``importorskip``,
a module-level skip) becomes a failure that quotes the skip's reason, so that tests
needing a browser, pybullet or rasterio fail rather than vanish when CI lacks them.
Expected failures (``xfail``) are left alone. Tests state their requirements with
:func:`needs.require` / :func:`needs.missing`, which fail with a clear message in CI.
"""

from __future__ import annotations

import pytest
from needs import in_ci

pytest_plugins = ["pytester"]


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 \
        else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _fail_instead(report) -> None:
    reason = _skip_reason(report)
    report.outcome = "failed"
    report.longrepr = f"skipped in CI (CI=true), where nothing may be skipped: {reason}"


def pytest_report_header(config) -> str | None:
    return "CI=true: skips are failures" if in_ci() else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        _fail_instead(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci():
        _fail_instead(report)
