"""Property test of the causalisation: random DAEs with random algebraic coupling (linear and nonlinear loops of
random sizes, in random equation order) are written as Modelica, compiled by the front end and causalise(), and the
resulting derivatives and algebraic values are compared with a direct numerical solve (scipy) of the same equations
built from the same coefficients, without pymoca or CasADi."""

from __future__ import annotations

import casadi as ca
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import fsolve

from orchestrator.export.causalise import causalise
from orchestrator.export.frontend import flatten_model


@st.composite
def random_dae(draw):
    n_x = draw(st.integers(1, 4))
    n_y = draw(st.integers(1, 16))
    density = draw(st.floats(0.0, 0.4))
    seed = draw(st.integers(0, 2**31 - 1))
    nonlinear = draw(st.booleans())
    rng = np.random.default_rng(seed)
    coupling = (rng.random((n_y, n_y)) < density) * rng.uniform(-1, 1, (n_y, n_y))
    from_x = rng.uniform(-1, 1, (n_y, n_x)) * (rng.random((n_y, n_x)) < 0.6)
    source = rng.uniform(-1, 1, n_y)
    sin_gain = rng.uniform(0.05, 0.3, n_y) * (rng.random(n_y) < 0.5) if nonlinear else np.zeros(n_y)
    # strictly diagonally dominant, counting the sine terms' largest slope: one solution, found by fsolve
    np.fill_diagonal(coupling, 0.0)
    np.fill_diagonal(coupling, np.abs(coupling).sum(axis=1) + sin_gain + 1 + rng.random(n_y))
    decay = rng.uniform(0.1, 2, n_x)
    pick = rng.integers(0, n_y, n_x)
    order = rng.permutation(n_y + n_x)
    return n_x, n_y, coupling, from_x, source, sin_gain, decay, pick, order


def _num(value: float) -> str:
    return repr(float(value))


def _modelica(n_x, n_y, coupling, from_x, source, sin_gain, decay, pick, order) -> str:
    lines = []
    for j in range(n_y):
        terms = [f"({_num(coupling[j, k])}) * y{k}" for k in range(n_y) if coupling[j, k] != 0]
        terms += [f"({_num(from_x[j, i])}) * x{i}" for i in range(n_x) if from_x[j, i] != 0]
        if sin_gain[j]:
            terms.append(f"({_num(sin_gain[j])}) * sin(y{(j + 1) % n_y})")
        lines.append(f"  {' + '.join(terms)} = {_num(source[j])};")
    for i in range(n_x):
        lines.append(f"  der(x{i}) = -({_num(decay[i])}) * x{i} + y{pick[i]};")
    equations = "\n".join(lines[k] for k in order)
    decl = "\n".join(
        [f"  Real x{i}(start = {0.3 * (i + 1)}, fixed = true);" for i in range(n_x)]
        + [f"  Real y{j};" for j in range(n_y)]
    )
    return f"model RandomDae\n{decl}\nequation\n{equations}\nend RandomDae;\n"


def _tear_variable_indices(model, x: np.ndarray) -> list[int]:
    """Which y each iteration variable is (a tearing variable is one of the algebraic y's): checked structurally."""
    z = ca.SX.sym("z", model.nz)
    values = model.vars(0, x, z, [], [])
    y_at = {int(v.name[1:]): k for k, v in enumerate(model.variables) if v.name.startswith("y")}
    torn = [[j for j, k in y_at.items() if ca.is_equal(values[k], z[i], 2)] for i in range(model.nz)]
    assert all(torn), f"iteration variables that are none of the y's: {torn}"
    return [candidates[0] for candidates in torn]


def _solve_iteration_variables(g_fn: ca.Function, start: np.ndarray) -> np.ndarray:
    """Newton's method on g (values and Jacobian from g_fn) from ``start`` until its step is at round-off, as the
    FMU's solver does from the previous step's values; the test fails when it does not converge."""
    z_np = start.copy()
    for _ in range(30):
        g_val, jac = (np.array(m) for m in g_fn(z_np))
        step = np.linalg.solve(jac, g_val.ravel())
        z_np = z_np - step
        if np.max(np.abs(step)) <= 1e-11 * (1 + np.max(np.abs(z_np))):
            return z_np
    raise AssertionError(f"Newton did not converge on the iteration variables: last step {step} at {z_np}")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dae=random_dae(), x_values=st.lists(st.floats(-2, 2), min_size=4, max_size=4))
def test_causalised_model_solves_the_same_equations(dae, x_values, tmp_path_factory):
    n_x, n_y, coupling, from_x, source, sin_gain, decay, pick, _ = dae
    folder = tmp_path_factory.mktemp("random_dae")
    (folder / "RandomDae.mo").write_text(_modelica(*dae))
    model = causalise(flatten_model(folder, "RandomDae"))
    x = np.array(x_values[:n_x])

    def residual(y):
        return coupling @ y + from_x @ x + sin_gain * np.sin(np.roll(y, -1)) - source

    y_ref = fsolve(residual, np.zeros(n_y), xtol=1e-12)
    assert np.max(np.abs(residual(y_ref))) < 1e-10
    xdot_ref = -decay * x + y_ref[pick]

    # iteration variables (non-linear or large blocks): solve g = 0 with the exact Jacobian, as the FMU would
    z = ca.SX.sym("z", model.nz)
    _, g = model.dae(0, x, z, [], [])
    z_val = ca.DM.zeros(model.nz)
    if model.nz:
        # started at the reference solution: the root this test compares is the one the equations define, not
        # where a solver from zero lands (torn systems from random coefficients can be badly scaled)
        start = y_ref[_tear_variable_indices(model, x)]
        z_np = _solve_iteration_variables(ca.Function("g", [z], [g, ca.jacobian(g, z)]), start)
        z_val = ca.DM(z_np)
    xdot, _ = model.dae(0, x, z_val, [], [])
    values = np.array(model.vars(0, x, z_val, [], [])).ravel()
    names = [v.name for v in model.variables]
    np.testing.assert_allclose(np.array(xdot).ravel(), xdot_ref, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose([values[names.index(f"y{j}")] for j in range(n_y)], y_ref, rtol=1e-8, atol=1e-9)
    # nonlinear coupling must end up in Newton iteration variables; purely linear small systems must not
    if not sin_gain.any() and n_y <= 12:
        assert model.nz == 0
