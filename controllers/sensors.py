"""Sensor models with the imperfections of real devices, seeded: the pulse oximeter and the plant sensors' noise.

Physics stays in the Modelica models: the patient model delivers the saturation at the oximeter's probe site (after
the lung-to-finger circulation) and the PSA unit its sensors' lags. What is added here is what a device does to a
reading, drawn from numpy's PCG64 generator seeded by the scenario's seed (the same seed gives bit-identical runs).

PulseOximeter (a finger probe and its monitor; documented in docs/physics-patients.md, "Pulse oximeter"):

* one raw saturation per heartbeat, taken here once per second (sample_time 1 s), with white noise
  (``noise_sd``, 1.5 % SpO2) and a constant bias drawn once per run (``bias_sd``, 1 %): together an accuracy of about
  1.8 % A_rms, inside the 2-3 % that manufacturers state and the 4 % that ISO 80601-2-61 allows;
* the displayed value is the mean of the valid raw values of the last ``averaging_s`` seconds (8 s: the default of
  common monitors, selectable 2-16 s), so a change shows after about averaging_s/2 on top of the circulation delay;
* the display shows whole percent (quantised to 1 %);
* motion artefacts while the patient moves (input ``motion``, 0 still .. 1 vigorous): episodes arrive at
  ``artefact_rate_per_min`` x motion per minute, last 3-10 s and pull the raw value down by 3-12 % (motion mostly reads
  falsely low); the signal quality falls to 0.1-0.4 while they last; below ``display_quality_min`` (0.3) the monitor
  discards those beats and blanks its display (no number) rather than show a value it cannot trust, above it the
  corrupted beats enter the average and the display reads low, flagged by the quality;
* dropouts: no reading (NaN, signal quality 0) while the perfusion index (input ``perfusion``, 1 normal) is below
  ``perfusion_min`` or the probe is off (input ``probe_on`` < 0.5), and for short random losses of 2-6 s
  (``dropout_rate_per_min``); after a dropout the display needs ``averaging_s``/2 of valid samples again;
* ``signal_quality`` (0..1) is what monitors show as a signal-quality or perfusion bar: 1 clean, low during an
  artefact, 0 without a reading. A titrator must not act on readings of low quality.

SensorNoise: the electronic noise of the PSA unit's sensors, white at the block's sample time, added inside the
FMU after each sensor's lag (inputs noise_O2, noise_p_feed, noise_p_tank, noise_Q of O2Twin.CoSim.PSAUnit). The
block has no inputs, so the noise adds no latency to a reading. Default levels: O2 0.1 % O2 (ultrasonic O2 sensors
resolve 0.1 %), pressures 2 mbar (0.05 % of a 4 bar full scale), flow 0.01 L/min (a thermal mass-flow sensor's
zero noise; at zero flow a reading stays above the watchdog's -0.06 L/min plausibility limit, 6 sd away).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import numpy as np

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import slpm_to_m3s


def _rng(seed: int, stream: int) -> np.random.Generator:
    """An independent generator per block kind, keyed by the scenario seed."""
    return np.random.Generator(np.random.PCG64([int(seed), stream]))


def _check_numbers(block: PythonBlock, names: tuple[str, ...], low: float = 0.0) -> None:
    for name in names:
        value = block.p[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value >= low):
            raise SystemDefinitionError(
                f"{block.name}: parameter '{name}' must be a finite number >= {low}, got {value!r}"
            )


def _check_seed(block: PythonBlock) -> None:
    seed = block.p["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int | float) or seed != seed or seed < 0 or seed != int(seed):
        raise SystemDefinitionError(f"{block.name}: seed must be an integer >= 0, got {seed!r}")


class PulseOximeter(PythonBlock):
    """Probe-site saturation in, displayed SpO2 (fraction, whole percent; NaN: no reading) and signal quality out."""

    INPUTS = (
        Variable("spo2_site", "input", unit="1", start=0.97, description="saturation at the probe site (patient)"),
        Variable("motion", "input", unit="1", start=0.0, description="patient movement, 0 still .. 1 vigorous"),
        Variable("perfusion", "input", unit="1", start=1.0, description="perfusion index relative to normal"),
        Variable("probe_on", "input", unit="1", start=1.0, description="1 probe on the finger, 0 off"),
    )
    OUTPUTS = (
        Variable("spo2", "output", unit="1", start=math.nan, description="displayed SpO2 (NaN: no reading)"),
        Variable("signal_quality", "output", unit="1", start=0.0, description="0 no signal .. 1 clean"),
        Variable("artefact", "output", unit="1", start=0.0, description="1 while a motion artefact corrupts the raw"),
    )
    PARAMETERS = (
        Variable("seed", "parameter", type="Integer", start=0, description="random stream (the scenario's seed)"),
        Variable("averaging_s", "parameter", unit="s", start=8.0, description="averaging window of the display"),
        Variable("noise_sd", "parameter", unit="1", start=0.015, description="beat-to-beat noise of the raw value"),
        Variable("bias_sd", "parameter", unit="1", start=0.01, description="sd of the device/patient bias"),
        Variable("resolution", "parameter", unit="1", start=0.01, description="display step (1 %)"),
        Variable("artefact_rate_per_min", "parameter", unit="1/min", start=3.0, description="at motion 1"),
        Variable("dropout_rate_per_min", "parameter", unit="1/min", start=0.1, description="short signal losses"),
        Variable("perfusion_min", "parameter", unit="1", start=0.3, description="no reading below this perfusion"),
        Variable("display_quality_min", "parameter", unit="1", start=0.3, description="blank display below"),
    )

    def validate_parameters(self) -> None:
        _check_seed(self)
        _check_numbers(self, ("noise_sd", "bias_sd", "artefact_rate_per_min", "dropout_rate_per_min", "perfusion_min",
                              "display_quality_min"))  # fmt: skip
        _check_numbers(self, ("averaging_s", "resolution"), low=1e-9)
        if not self.p["averaging_s"] >= self.info.sample_time:
            raise SystemDefinitionError(f"{self.name}: averaging_s must be at least the sample time")

    def reset(self) -> None:
        p = self.p
        self._rng = _rng(int(p["seed"]), 1)
        self._bias = float(self._rng.normal(0.0, p["bias_sd"])) if p["bias_sd"] > 0 else 0.0
        self._window_n = max(1, round(p["averaging_s"] / self.info.sample_time))
        self._window: deque[float] = deque(maxlen=self._window_n)
        self._artefact_until = -math.inf
        self._artefact_depth = 0.0
        self._artefact_quality = 1.0
        self._dropout_until = -math.inf
        self._out = {"spo2": math.nan, "signal_quality": 0.0, "artefact": 0.0}

    def _events(self, t: float, motion: float) -> None:
        """Start a motion artefact or a short dropout (Poisson arrivals at this sample)."""
        ts, rng = self.info.sample_time, self._rng
        draws = rng.random(5)  # a fixed number of draws per sample keeps the stream aligned whatever happens
        if t >= self._artefact_until and draws[0] < self.p["artefact_rate_per_min"] * max(motion, 0.0) * ts / 60.0:
            self._artefact_until = t + 3.0 + 7.0 * draws[1]
            self._artefact_depth = 0.03 + 0.09 * draws[2]
            self._artefact_quality = 0.1 + 0.3 * draws[3]
        if t >= self._dropout_until and draws[4] < self.p["dropout_rate_per_min"] * ts / 60.0:
            self._dropout_until = t + 2.0 + 4.0 * draws[1]

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        p, out = self.p, self._out
        site = inputs["spo2_site"]
        self._events(t, inputs["motion"])
        noise = float(self._rng.normal(0.0, p["noise_sd"])) if p["noise_sd"] > 0 else 0.0
        no_signal = (
            inputs["probe_on"] < 0.5
            or not inputs["perfusion"] >= p["perfusion_min"]
            or t < self._dropout_until
            or not math.isfinite(site)
        )
        if no_signal:
            self._window.clear()
            out["spo2"], out["signal_quality"], out["artefact"] = math.nan, 0.0, 0.0
            return out
        raw = site + self._bias + noise
        quality = min(1.0, inputs["perfusion"])
        in_artefact = t < self._artefact_until
        if in_artefact:
            raw -= self._artefact_depth
            quality = min(quality, self._artefact_quality)
        out["artefact"] = 1.0 if in_artefact else 0.0
        if quality < p["display_quality_min"]:  # beats too poor to use: discarded, the display blanks ("---")
            out["spo2"], out["signal_quality"] = math.nan, quality
            return out
        self._window.append(min(max(raw, 0.0), 1.0))
        if len(self._window) * 2 < self._window_n:  # not enough valid beats since the signal came back
            out["spo2"], out["signal_quality"] = math.nan, 0.0
        else:
            mean = sum(self._window) / len(self._window)
            out["spo2"] = min(round(mean / p["resolution"]) * p["resolution"], 1.0)
            out["signal_quality"] = quality
        return out


#: SensorNoise channels: output name, parameter with its default (SI) and what it is.
NOISE_CHANNELS = (
    ("noise_O2", "sd_O2", 0.001, "1", "O2 sensor noise (fraction)"),
    ("noise_p_feed", "sd_p_feed_pa", 200.0, "Pa", "feed pressure sensor noise"),
    ("noise_p_tank", "sd_p_tank_pa", 200.0, "Pa", "tank pressure sensor noise"),
    ("noise_Q", "sd_Q", slpm_to_m3s(0.01), "m3/s", "flow sensor noise (standard)"),
)


class SensorNoise(PythonBlock):
    """White, seeded noise for the PSA unit's sensor readings (outputs go to the PSAUnit's noise_* inputs)."""

    OUTPUTS = tuple(Variable(out, "output", unit=u, start=0.0, description=d) for out, _, _, u, d in NOISE_CHANNELS)
    PARAMETERS = (
        Variable("seed", "parameter", type="Integer", start=0, description="random stream (the scenario's seed)"),
        *(
            Variable(par, "parameter", unit=u, start=sd, description=f"sd of the {d}")
            for _, par, sd, u, d in NOISE_CHANNELS
        ),
    )

    def validate_parameters(self) -> None:
        _check_seed(self)
        _check_numbers(self, tuple(par for _, par, _, _, _ in NOISE_CHANNELS))

    #: Samples of standard normal draws taken from the generator at a time. Drawing n samples at once gives the
    #: same numbers, in the same order, as n draws of one sample each (numpy's Generator has no hidden cache), so
    #: the batch size changes the cost, not the noise; 1 draws sample by sample.
    BATCH = 1024

    def reset(self) -> None:
        self._rng = _rng(int(self.p["seed"]), 2)
        self._sd = [float(self.p[par]) for _, par, _, _, _ in NOISE_CHANNELS]
        self._out = {out: 0.0 for out, _, _, _, _ in NOISE_CHANNELS}
        self._draws = np.empty((0, len(NOISE_CHANNELS)))  # drawn ahead, not used yet (part of the block's state)
        self._next = 0

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        if self._next == len(self._draws):
            self._draws = self._rng.standard_normal((self.BATCH, len(NOISE_CHANNELS)))
            self._next = 0
        z = self._draws[self._next].tolist()
        self._next += 1
        out, sd = self._out, self._sd
        for k, (name, _, _, _, _) in enumerate(NOISE_CHANNELS):
            out[name] = z[k] * sd[k]  # the product numpy formed before, as a Python float
        return out
