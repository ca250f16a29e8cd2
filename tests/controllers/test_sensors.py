"""Sensor models: the pulse oximeter's averaging delay, noise, 1 % steps, artefacts, dropouts and signal quality;
the plant sensors' noise; both seeded (the same seed gives the same sequence)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controllers.sensors import NOISE_CHANNELS, PulseOximeter, SensorNoise
from orchestrator.errors import SystemDefinitionError

QUIET = {"noise_sd": 0.0, "bias_sd": 0.0, "dropout_rate_per_min": 0.0, "artefact_rate_per_min": 0.0}


def oximeter(**params) -> PulseOximeter:
    block = PulseOximeter("oximeter", 1.0)
    block.setup(0.0, params)
    return block


def drive(block: PulseOximeter, seconds: int, t0: int = 0, **inputs) -> dict[str, np.ndarray]:
    rows = []
    for k in range(t0, t0 + seconds):
        block.set_inputs({name: (value(k) if callable(value) else value) for name, value in inputs.items()})
        block.step(float(k), 1.0)
        rows.append(block.get_outputs())
    return {name: np.array([r[name] for r in rows]) for name in rows[0]}


def test_averaging_delays_a_step_by_half_the_window():
    block = oximeter(averaging_s=8.0, **QUIET)
    r = drive(block, 60, spo2_site=lambda k: 0.95 if k < 30 else 0.85)
    spo2 = r["spo2"]
    assert np.isnan(spo2[:3]).all() and spo2[4] == pytest.approx(0.95)  # half a window of beats before a number
    assert spo2[29] == pytest.approx(0.95)
    assert spo2[33] == pytest.approx(0.90)  # 4 of 8 samples new: the midpoint after averaging_s / 2
    assert spo2[37] == pytest.approx(0.85)  # the whole window after averaging_s
    assert np.all(r["signal_quality"][4:] == 1.0)


def test_display_is_whole_percent_with_noise_and_bias_of_the_stated_size():
    r = drive(oximeter(seed=3), 3600, spo2_site=0.92)
    spo2 = r["spo2"][np.isfinite(r["spo2"])]
    assert np.allclose(spo2 * 100, np.round(spo2 * 100))
    # 1.5 % beat noise through an 8 s mean: about 0.53 % sd (plus the 1 % steps); the bias is one constant draw
    assert 0.003 < np.std(spo2) < 0.009
    assert abs(np.mean(spo2) - 0.92) < 0.035  # |bias| < 3.5 sd of 1 %


def test_same_seed_same_readings_other_seed_other_readings():
    def run(seed):
        return drive(oximeter(seed=seed), 600, spo2_site=lambda k: 0.9 + 0.02 * math.sin(k / 50), motion=0.5)

    a, b, c = run(11), run(11), run(12)
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=True), name
    assert not np.array_equal(a["spo2"], c["spo2"], equal_nan=True)


def test_motion_artefacts_read_low_and_flag_low_quality():
    block = oximeter(seed=5, noise_sd=0.0, bias_sd=0.0, dropout_rate_per_min=0.0, artefact_rate_per_min=6.0)
    still = drive(block, 600, spo2_site=0.92, motion=0.0)
    moving = drive(block, 1200, t0=600, spo2_site=0.92, motion=1.0)
    assert still["artefact"].sum() == 0 and np.all(still["spo2"][10:] == pytest.approx(0.92))
    in_artefact = moving["artefact"] > 0.5
    # about 6 per minute x 6.5 s each at motion 1 would cover most of the time; episodes do not overlap
    assert 0.2 < in_artefact.mean() < 0.9
    assert np.all(moving["signal_quality"][in_artefact] <= 0.4)
    assert np.nanmin(moving["spo2"]) <= 0.85  # falsely low readings
    clean = ~in_artefact & np.isfinite(moving["spo2"])
    assert np.all(moving["signal_quality"][clean] == 1.0)


@pytest.mark.parametrize("inputs", [{"probe_on": 0.0}, {"perfusion": 0.2}])
def test_probe_off_and_low_perfusion_give_no_reading(inputs):
    block = oximeter(**QUIET)
    drive(block, 30, spo2_site=0.9)
    lost = drive(block, 20, t0=30, spo2_site=0.9, **inputs)
    assert np.isnan(lost["spo2"]).all() and np.all(lost["signal_quality"] == 0.0)
    back = drive(block, 20, t0=50, spo2_site=0.9, probe_on=1.0, perfusion=1.0)
    assert np.isnan(back["spo2"][:3]).all() and back["spo2"][-1] == pytest.approx(0.9)


def test_random_dropouts_are_short_and_rare():
    r = drive(oximeter(seed=1, dropout_rate_per_min=0.5), 3600, spo2_site=0.9)
    missing = np.isnan(r["spo2"][10:])
    starts = np.flatnonzero(np.diff(missing.astype(int)) == 1)
    assert 10 <= len(starts) <= 50  # about 30 in an hour at 0.5 per minute
    assert missing.mean() < 0.1


def test_sensor_noise_has_the_stated_sd_and_is_seeded():
    def run(seed):
        block = SensorNoise("noise", 0.05)
        block.setup(0.0, {"seed": seed})
        rows = []
        for k in range(20000):
            block.step(k * 0.05, 0.05)
            rows.append(block.get_outputs())
        return {name: np.array([r[name] for r in rows]) for name in rows[0]}

    a, b = run(4), run(4)
    for out, _, sd, _, _ in NOISE_CHANNELS:
        assert np.array_equal(a[out], b[out])
        assert np.std(a[out]) == pytest.approx(sd, rel=0.03), out
        assert abs(np.mean(a[out])) < 0.05 * sd, out


def test_sensor_noise_batches_are_the_sample_by_sample_draws(monkeypatch):
    """Drawn in batches, the noise is the same stream as one draw of the four channels per sample (the generator
    the block used before batching), across batch boundaries and after a rollback to a state mid-batch."""
    monkeypatch.setattr(SensorNoise, "BATCH", 7)
    block = SensorNoise("noise", 0.05)
    block.setup(0.0, {"seed": 3})
    rng = np.random.Generator(np.random.PCG64([3, 2]))
    sd = np.array([sd for _, _, sd, _, _ in NOISE_CHANNELS])
    names = [out for out, _, _, _, _ in NOISE_CHANNELS]
    expected = [(rng.standard_normal(len(NOISE_CHANNELS)) * sd).tolist() for _ in range(30)]
    got = []
    for k in range(30):
        if k == 10:
            saved = block.get_state()
        block.step(k * 0.05, 0.05)
        got.append([block.get_outputs()[n] for n in names])
    assert got == expected  # exactly equal, not approximately
    block.set_state(saved)  # rolled back to sample 10 (mid-batch): the same numbers again
    again = []
    for k in range(10, 30):
        block.step(k * 0.05, 0.05)
        again.append([block.get_outputs()[n] for n in names])
    assert again == expected[10:]


@pytest.mark.parametrize(
    ("params", "word"),
    [({"averaging_s": 0.5}, "averaging_s"), ({"noise_sd": -0.1}, "noise_sd"), ({"seed": -1}, "seed")],
)
def test_oximeter_parameters_are_checked(params, word):
    with pytest.raises(SystemDefinitionError, match=word):
        oximeter(**params)
