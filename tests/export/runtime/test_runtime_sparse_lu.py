"""The runtime's sparse LU (orchestrator/export/runtime/o2_sparse_lu.c) against numpy on random sparse matrices.

The C file is compiled on its own into a small shared library with the system C compiler and called via ctypes.
"""

from __future__ import annotations

import ctypes
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.export import build

RUNTIME = Path(build.__file__).parent / "runtime"

HARNESS = r"""
#include <stdlib.h>
#include "o2_sparse_lu.h"
/* the factor's lasting arrays, released together after each call */
static void *lasting[64];
static int n_lasting;
static void *keep(void *ctx, size_t nobj, size_t size) {
    (void)ctx;
    return n_lasting < 64 ? (lasting[n_lasting++] = calloc(nobj ? nobj : 1, size)) : NULL;
}
static int done(int rc) {
    while (n_lasting > 0) free(lasting[--n_lasting]);
    return rc;
}
/* Analyse + factorise + solve in one call; returns 0 ok, 1 analyse failed, 2 singular; *dense = fallback used. */
__attribute__((visibility("default"))) int lu_solve(int n, const int *colptr, const int *rowind,
                                                    const double *values, double *b, int *dense) {
    o2_splu lu;
    o2_splu_memory mem = {keep, NULL, calloc, free};
    if (o2_splu_analyse(&lu, n, colptr, rowind, &mem) != 0) return done(1);
    if (o2_splu_factor(&lu, values) != 0) return done(2);
    o2_splu_solve(&lu, b);
    *dense = lu.use_dense;
    return done(0);
}
"""


@pytest.fixture(scope="module")
def lu_lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (cc/gcc) on PATH")
    work = tmp_path_factory.mktemp("splu")
    (work / "harness.c").write_text(HARNESS)
    for name in ("o2_sparse_lu.c", "o2_sparse_lu.h"):
        shutil.copyfile(RUNTIME / name, work / name)
    lib = work / "libsplu.so"
    build.compile_library([build.CUnit("harness.c", "-O1"), build.CUnit("o2_sparse_lu.c", "-O1")], work, lib)
    return ctypes.CDLL(str(lib))


def _solve(lib: ctypes.CDLL, a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray, int]:
    n = a.shape[0]
    colptr, rowind, values = [0], [], []
    for c in range(n):
        rows = np.nonzero(a[:, c])[0]
        rowind.extend(int(r) for r in rows)
        values.extend(float(a[r, c]) for r in rows)
        colptr.append(len(rowind))
    ci = (ctypes.c_int * len(colptr))(*colptr)
    ri = (ctypes.c_int * max(1, len(rowind)))(*rowind)
    va = (ctypes.c_double * max(1, len(values)))(*values)
    bb = (ctypes.c_double * n)(*b)
    dense = ctypes.c_int(0)
    rc = lib.lu_solve(n, ci, ri, va, bb, ctypes.byref(dense))
    return rc, np.array(bb[:]), dense.value


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    density=st.floats(0.02, 0.4),
    seed=st.integers(0, 2**31 - 1),
    permute=st.booleans(),
)
def test_sparse_lu_solves_random_nonsingular_systems(
    lu_lib: ctypes.CDLL, n: int, density: float, seed: int, permute: bool
) -> None:
    rng = np.random.default_rng(seed)
    a = np.where(rng.random((n, n)) < density, rng.normal(size=(n, n)), 0.0)
    a += np.diag(rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n))
    if permute:  # a zero-free diagonal only after a row permutation: exercises the transversal
        a = a[rng.permutation(n)]
    b = rng.normal(size=n)
    rc, x, _ = _solve(lu_lib, a, b)
    assert rc == 0
    np.testing.assert_allclose(a @ x, b, rtol=1e-8, atol=1e-8 * np.abs(a).sum(axis=1).max())


def test_zero_pivot_falls_back_to_dense_partial_pivoting(lu_lib: ctypes.CDLL) -> None:
    # Structurally fine diagonal, numerically zero first pivot: a static pivot order cannot factor this.
    a = np.array([[0.0, 1.0, 0.0], [1.0, 1e-20, 2.0], [0.0, 3.0, 1.0]])
    a[0, 0] = 1e-300
    b = np.array([1.0, 2.0, 3.0])
    rc, x, dense = _solve(lu_lib, a, b)
    assert rc == 0 and dense == 1
    np.testing.assert_allclose(a @ x, b, rtol=1e-12)


def test_singular_matrix_is_reported(lu_lib: ctypes.CDLL) -> None:
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    rc, _, _ = _solve(lu_lib, a, np.array([1.0, 1.0]))
    assert rc == 2
    # structurally singular: an empty column
    a = np.array([[1.0, 0.0], [2.0, 0.0]])
    rc, _, _ = _solve(lu_lib, a, np.array([1.0, 1.0]))
    assert rc == 2
