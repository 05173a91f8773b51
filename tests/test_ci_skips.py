"""In CI (CI=true) a missing requirement fails instead of skipping; outside CI it skips.

The helper (tests/needs.py) is tested directly, and the suite's conftest hook is
tested on a throw-away test directory run by pytester with a copy of both files."""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import in_ci, missing, require

HERE = Path(__file__).resolve().parent
ABSENT = "fleetsim_tests_no_such_module"


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes"])
def test_ci_is_recognised(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert in_ci()


@pytest.mark.parametrize("value", ["", "false", "0"])
def test_not_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert not in_ci()


def test_require_returns_the_module():
    assert require("math", "arithmetic").sqrt(4.0) == 2.0


def test_a_missing_module_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as info:
        require(ABSENT, "nothing")
    assert str(info.value) == (
        f"cannot import {ABSENT} (No module named '{ABSENT}'): nothing -- required in CI "
        "(CI=true), where nothing may be skipped")
    with pytest.raises(pytest.fail.Exception, match=r"^no browser -- required in CI"):
        missing("no browser")


def test_a_missing_module_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception,
                       match=rf"^cannot import {ABSENT} \(No module named '{ABSENT}'\): nothing$"):
        require(ABSENT, "nothing")


CASES = f'''
import pytest
from needs import require

def test_inside():
    require("{ABSENT}", "a test that needs it")

@pytest.mark.skip(reason="plain skip mark")
def test_marked():
    pass

@pytest.mark.skipif(True, reason="a skipif mark")
def test_skipif():
    pass

def test_importorskip():
    pytest.importorskip("{ABSENT}")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfail():
    assert False

def test_passes():
    pass
'''

MODULE_LEVEL = f'''
from needs import require
require("{ABSENT}", "a module that needs it")

def test_never_collected():
    pass
'''


@pytest.fixture
def suite(pytester):
    """A test directory with copies of the suite's conftest and needs modules."""
    pytester.makeconftest((HERE / "conftest.py").read_text())
    pytester.makepyfile(needs=(HERE / "needs.py").read_text(),
                        test_cases=CASES, test_module_level=MODULE_LEVEL)
    pytester.syspathinsert()
    return pytester


def test_every_skip_fails_in_ci(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-p", "no:cacheprovider", "-p", "no:playwright", "-rA",
                             "--continue-on-collection-errors")
    # A skip in a test's call fails it; one in its setup (marks) or at collection is an
    # error: either way the run fails.
    result.assert_outcomes(passed=1, failed=2, errors=3, xfailed=1)
    out = result.stdout.str()
    assert "CI=true: skips are failures" in out
    for reason in ("nothing may be skipped: plain skip mark",
                   "nothing may be skipped: a skipif mark",
                   f"nothing may be skipped: could not import '{ABSENT}'",
                   "a test that needs it -- required in CI",
                   "a module that needs it -- required in CI"):
        assert reason in out, reason
    assert "During handling" not in out
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_skips_are_skips_outside_ci(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest("-p", "no:cacheprovider", "-p", "no:playwright")
    result.assert_outcomes(passed=1, skipped=5, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
