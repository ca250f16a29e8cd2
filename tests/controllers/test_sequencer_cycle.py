"""PSASequencer: the valve table, step durations, cycle-time scaling, validation."""

from __future__ import annotations

import pytest

from controllers.sequencer import STEP_NAMES, VALVES, PSASequencer
from orchestrator.errors import SystemDefinitionError

TS = 0.05


def run(seq: PSASequencer, seconds: float, scale=1.0, trim=1.0, t0=0.0):
    rows = []
    for k in range(round(seconds / TS)):
        t = t0 + k * TS
        seq.set_inputs({"cycle_time_scale": scale, "cycle_time_trim": trim})
        seq.step(t, TS)
        rows.append((t, seq.get_outputs()))
    return rows


def step_durations(rows):
    """Durations of each visited step, in seconds, in visiting order."""
    out = []
    start_t, current = rows[0][0], rows[0][1]["step_index"]
    for t, y in rows[1:]:
        if y["step_index"] != current:
            out.append((int(current), t - start_t))
            start_t, current = t, y["step_index"]
    return out


def make(**params):
    seq = PSASequencer("seq", TS)
    seq.setup(0.0, params)
    return seq


def test_default_cycle_is_7_5_s_and_visits_all_steps_in_order():
    seq = make()
    assert seq.nominal_cycle_time() == pytest.approx(7.5)
    rows = run(seq, 15.0)
    durations = step_durations(rows)
    assert [s for s, _ in durations[:6]] == [0, 1, 2, 3, 4, 5]
    expected = {0: 1.0, 1: 2.2, 2: 0.55, 3: 1.0, 4: 2.2, 5: 0.55}
    for step, d in durations:
        assert d == pytest.approx(expected[step], abs=1e-9)
    assert rows[-1][1]["cycle_count"] == 1.0  # one full cycle completed (the second ends exactly at 15 s)


def test_valve_patterns_are_mirrored_and_never_feed_and_vent_the_same_bed():
    rows = run(make(purge_opening=0.3), 7.5)
    seen = {}
    for _, y in rows:
        seen[int(y["step_index"])] = tuple(y[v] for v in VALVES)
        assert not (y["cmd_feed_A"] > 0 and y["cmd_vent_A"] > 0)
        assert not (y["cmd_feed_B"] > 0 and y["cmd_vent_B"] > 0)
        assert y["cmd_feed_A"] + y["cmd_feed_B"] >= 1.0, "the compressor always has a bed to feed"
    assert seen[0] == (1.0, 0.0, 0.0, 1.0, 0.0)
    assert seen[1] == (1.0, 0.0, 0.0, 1.0, 0.3)
    assert seen[2] == (0.0, 1.0, 0.0, 0.0, 1.0)
    # steps 3..5 are steps 0..2 with beds A and B swapped
    for a, b in ((0, 3), (1, 4), (2, 5)):
        fa, fb, va, vb, eq = seen[a]
        assert seen[b] == (fb, fa, vb, va, eq)
    assert len(STEP_NAMES) == 6


def test_scale_and_trim_multiply_durations():
    seq = make()
    rows = run(seq, 30.0, scale=1.2, trim=0.9)
    for step, d in step_durations(rows):
        nominal = {0: 1.0, 1: 2.2, 2: 0.55, 3: 1.0, 4: 2.2, 5: 0.55}[step]
        assert abs(d - nominal * 1.08) <= TS + 1e-9  # resolved to one sample
    assert rows[-1][1]["cycle_time"] == pytest.approx(7.5 * 1.08)


def test_scale_is_clamped_and_garbage_ignored():
    seq = make(scale_min=0.8, scale_max=1.5)
    rows = run(seq, 1.0, scale=0.1)
    assert rows[-1][1]["cycle_time"] == pytest.approx(7.5 * 0.8)
    rows = run(seq, 1.0, scale=float("nan"), t0=1.0)
    assert rows[-1][1]["cycle_time"] == pytest.approx(7.5)
    rows = run(seq, 1.0, scale=-3.0, trim=float("inf"), t0=2.0)
    assert rows[-1][1]["cycle_time"] == pytest.approx(7.5)


def test_scale_change_mid_step_keeps_progress():
    """Halfway through the 2.2 s purge step, doubling the scale: the remaining half takes 2.2 s."""
    seq = make()
    rows = run(seq, 1.0 + 1.1)  # to the middle of step 1
    assert rows[-1][1]["step_index"] == 1
    rows = run(seq, 3.0, scale=2.0, t0=2.1)
    t_switch = next(t for t, y in rows if y["step_index"] == 2)
    assert t_switch == pytest.approx(2.1 + 2.2, abs=TS + 1e-9)


def test_no_feed_during_equalize_option():
    rows = run(make(feed_during_equalize=False), 7.5)
    eq = [y for _, y in rows if y["step_index"] in (2.0, 5.0)]
    assert eq and all(y["cmd_feed_A"] == 0 and y["cmd_feed_B"] == 0 and y["cmd_equalize"] == 1 for y in eq)


@pytest.mark.parametrize(
    "params, word",
    [({"t_purge": 0.0}, "t_purge"), ({"t_equalize": 0.01}, "t_equalize"), ({"purge_opening": 1.5}, "purge_opening"),
     ({"scale_min": 1.2}, "scale_min")],
)  # fmt: skip
def test_validation(params, word):
    with pytest.raises(SystemDefinitionError, match=word):
        make(**params)


def test_rollback_restores_phase():
    seq = make()
    run(seq, 3.0)
    state = seq.get_state()
    a = run(seq, 5.0, t0=3.0)
    seq.set_state(state)
    b = run(seq, 5.0, t0=3.0)
    assert [y for _, y in a] == [y for _, y in b]
