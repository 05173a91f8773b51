"""A run is the same on every processor.

numpy picks SIMD code by what the processor offers (AVX2, AVX-512): its ``exp``,
``arctan2``, ``log`` and others then differ in the last bit, and its ``argsort`` and
``argpartition`` order tied items differently. fleetsim's runs must not depend on
that: the golden runs below are re-simulated with numpy's dispatch limited to each
level this processor has (``NPY_DISABLE_CPU_FEATURES``), and must give the recorded
digest and metrics every time. On a processor with AVX-512 this compares AVX-512,
AVX2 and the SSE4 baseline; on one without, the levels it has.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fleetsim import libm

ROOT = Path(__file__).resolve().parents[1]

#: Golden runs that once differed between processors: patrol policies choosing among
#: cells tied for idleness (and, in coastal_patrol, by a tie-break term once made with a
#: BLAS matrix product), detections drawn against exp(-2 d / W).
SENSITIVE = ("oversight_tradeoff-short", "sea_rescue-short", "search_and_rescue-short",
             "coastal_patrol-full-seed1")

_RUN = """
import hashlib, json, sys
sys.path.insert(0, {golden!r})
from golden_runs import golden_runs, simulate
out = {{}}
for g in golden_runs():
    if g.name in {names!r}:
        digest, metrics = simulate(g)
        out[g.name] = [digest, hashlib.sha256(metrics.encode()).hexdigest()]
from numpy._core._multiarray_umath import __cpu_features__, __cpu_dispatch__
out["_levels"] = [k for k in __cpu_dispatch__ if __cpu_features__.get(k)]
print(json.dumps(out))
"""


def _dispatch_levels() -> list[str]:
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return [k for k in __cpu_dispatch__ if __cpu_features__.get(k)]


def _simulate_with(disabled: list[str], **extra_env: str) -> dict:
    env = dict(os.environ)
    for name in ("NPY_DISABLE_CPU_FEATURES", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES"):
        env.pop(name, None)
    if disabled:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(disabled)
    env.update(extra_env)
    code = _RUN.format(golden=str(ROOT / "tests" / "golden"), names=SENSITIVE)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_golden_runs_are_the_same_at_every_simd_level():
    sys.path.insert(0, str(ROOT / "tests" / "golden"))
    from golden_runs import golden_runs, recorded_digests

    expected = {g.name: [recorded_digests()[g.name],
                         hashlib.sha256(g.metrics_path.read_bytes()).hexdigest()]
                for g in golden_runs() if g.name in SENSITIVE}
    assert len(expected) == len(SENSITIVE)
    levels = _dispatch_levels()
    # All levels on, then the top one off, then the next, ... down to the baseline.
    for k in range(len(levels) + 1):
        disabled = levels[len(levels) - k:]
        got = _simulate_with(disabled)
        assert got.pop("_levels") == levels[:len(levels) - k]
        assert got == expected, f"runs differ with numpy's {disabled or 'full'} dispatch off"


def test_golden_runs_are_the_same_with_kernels_compiled_for_any_x86_64():
    # numba compiles fleetsim's kernels for this processor (AVX-512, FMA where it has
    # them); compiled for a generic x86-64 (SSE2 only) they must give the same bits.
    sys.path.insert(0, str(ROOT / "tests" / "golden"))
    from golden_runs import golden_runs, recorded_digests

    expected = {g.name: [recorded_digests()[g.name],
                         hashlib.sha256(g.metrics_path.read_bytes()).hexdigest()]
                for g in golden_runs() if g.name in SENSITIVE}
    got = _simulate_with([], NUMBA_CPU_NAME="generic")
    got.pop("_levels")
    assert got == expected


@pytest.mark.parametrize("core", ["Prescott", "Haswell"])
def test_golden_runs_are_the_same_with_the_blas_kernels_of_other_processors(core):
    # numpy's matrix products go to OpenBLAS, which picks its kernel for the processor
    # (OPENBLAS_CORETYPE picks one: Prescott's has no fused multiply-add, Haswell's has);
    # nothing a run computes may depend on which.
    sys.path.insert(0, str(ROOT / "tests" / "golden"))
    from golden_runs import golden_runs, recorded_digests

    expected = {g.name: [recorded_digests()[g.name],
                         hashlib.sha256(g.metrics_path.read_bytes()).hexdigest()]
                for g in golden_runs() if g.name in SENSITIVE}
    got = _simulate_with([], OPENBLAS_CORETYPE=core)
    got.pop("_levels")
    assert got == expected


def test_matmul_sums_term_by_term_without_fusing():
    rng = np.random.default_rng(3)
    for n, k, m in ((0, 2, 3), (5, 0, 2), (1, 2, 8), (300, 2, 8), (40, 17, 5)):
        a = rng.standard_normal((n, k)) * 10.0 ** rng.integers(-8, 8, (n, k))
        b = rng.standard_normal((k, m))
        want = np.zeros((n, m))
        for i in range(n):
            for j in range(m):
                if k:
                    acc = float(a[i, 0]) * float(b[0, j])
                    for t in range(1, k):
                        acc += float(a[i, t]) * float(b[t, j])
                    want[i, j] = acc
        got = libm.matmul(a, b)
        assert got.shape == (n, m) and got.tobytes() == want.tobytes()
    # Two terms: what numpy's elementwise arithmetic gives, on every processor.
    h, st = rng.standard_normal((1000, 2)), rng.standard_normal((2, 8))
    assert libm.matmul(h, st).tobytes() == (h[:, :1] * st[0] + h[:, 1:] * st[1]).tobytes()
    with pytest.raises(ValueError, match="matmul needs"):
        libm.matmul(np.zeros((2, 3)), np.zeros((2, 3)))


@pytest.mark.parametrize("name", ["exp", "expm1", "log", "arctan2"])
def test_libm_functions_are_the_c_library_s(name):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-700, 700, 2000), rng.uniform(-1, 1, 2000),
                        [0.0, -0.0, 1e-300, np.inf, -np.inf]])
    y = rng.uniform(-5, 5, len(x))
    ours = getattr(libm, name)
    ref_fn = {"exp": math.exp, "expm1": math.expm1, "arctan2": math.atan2,
              "log": math.log}[name]

    def ref(*a):
        try:
            return ref_fn(*a)
        except OverflowError:
            return math.inf
        except ValueError:  # log of a negative number or of 0
            return math.nan if a[0] < 0 else -math.inf

    if name == "arctan2":
        got, want = ours(y, x), np.array([ref(a, b) for a, b in zip(y, x, strict=True)])
    else:
        got, want = ours(x), np.array([ref(a) for a in x])
    assert got.dtype == np.float64
    assert np.array_equal(got, want, equal_nan=True)


#: numpy functions whose results depend on the processor (see the module docstring).
_PROCESSOR_DEPENDENT = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "tan",
                        "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
                        "arcsinh", "cbrt", "power", "float_power", "argpartition"}


#: numpy's matrix products (BLAS: a kernel per processor; ``einsum`` without
#: ``optimize`` sums with loops of numpy's own, the same on every processor).
_PRODUCTS = {"dot", "matmul", "inner", "vdot", "tensordot", "linalg"}


def test_no_module_calls_numpys_processor_dependent_functions():
    # (fleetsim.fidelity compares with pybullet's physics, itself not the same bits on
    # every processor: its reports are not part of a run's record)
    found = []
    for path in sorted((ROOT / "fleetsim").rglob("*.py")):
        rel = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in ("np", "numpy")):
                if node.attr in _PROCESSOR_DEPENDENT or (
                        node.attr in _PRODUCTS and rel.parts[1] != "fidelity"):
                    found.append(f"{rel}:{node.lineno}: np.{node.attr}")
            elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)
                    and rel.parts[1] != "fidelity"):
                found.append(f"{rel}:{node.lineno}: @")
    assert not found, ("use fleetsim.libm (or a stable sort) instead:\n"
                       + "\n".join(found))
