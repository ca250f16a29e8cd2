"""PSASequencer: drives the five PSA valves through the two-bed Skarstrom cycle with equalisation.

One full cycle is six steps (three per bed, mirrored):

| step | name | feed_A | feed_B | vent_A | vent_B | equalize |
| --- | --- | --- | --- | --- | --- | --- |
| 0 | A pressurisation/adsorption, B blowdown | 1 | 0 | 0 | 1 | 0 |
| 1 | A adsorption, B purge | 1 | 0 | 0 | 1 | purge_opening |
| 2 | equalisation A -> B | 0 | feed_eq | 0 | 0 | 1 |
| 3 | B pressurisation/adsorption, A blowdown | 0 | 1 | 1 | 0 | 0 |
| 4 | B adsorption, A purge | 0 | 1 | 1 | 0 | purge_opening |
| 5 | equalisation B -> A | feed_eq | 0 | 0 | 0 | 1 |

Pressurisation is the start of each bed's feed step (feed pressurisation after equalisation). Purge gas flows from the
producing bed's product end through the partly opened equalisation valve into the venting bed. ``feed_eq`` (1 when
``feed_during_equalize``) keeps feeding the bed about to produce during equalisation so the compressor never runs
against closed valves.

Step durations are parameters; two inputs scale them all (the effective duration is duration * cycle_time_scale *
cycle_time_trim): ``cycle_time_scale`` for a supervisory layer (optimizer, MPC), ``cycle_time_trim`` for the safety
watchdog's cycle adjustment. The sequencer advances a normalised step progress by sample_time / effective duration,
so a scale change takes effect smoothly within the current step; step changes happen at sample instants, so durations
are resolved to one sample_time.

Any other cycle is a table of steps read from a TOML file (parameter ``pattern``; format and rules in
controllers/sequence_table.py and docs/controllers.md): which valves are open in each step, for how long, and how
fast each valve's command ramps open and shut (full-stroke times, resolved to the sample time). The six-step table
above is then replaced by the file's, and the t_* / purge_opening / feed_during_equalize parameters are not used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from controllers.sequence_table import VALVES, SequenceTable, load_sequence, sequence_file, skarstrom_table
from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError

__all__ = ["STEP_NAMES", "VALVES", "PSASequencer"]

#: Step names of the built-in six-step cycle (a pattern file names its own steps).
STEP_NAMES = tuple(step.name for step in skarstrom_table(1.0, 1.0, 1.0, 0.0, True).steps)


class PSASequencer(PythonBlock):
    """Two-bed PSA cycle: valve commands 0..1 from a table of steps with scalable durations (s) and ramps."""

    INPUTS = (
        Variable("cycle_time_scale", "input", unit="1", start=1.0, description="supervisor's duration scale"),
        Variable("cycle_time_trim", "input", unit="1", start=1.0, description="watchdog's duration scale"),
    )
    OUTPUTS = (
        *(Variable(name, "output", unit="1", start=0.0, min=0.0, max=1.0) for name in VALVES),
        Variable("step_index", "output", unit="1", start=0.0, description="current step (0-based row of the table)"),
        Variable("cycle_count", "output", unit="1", start=0.0, description="completed full cycles"),
        Variable("cycle_time", "output", unit="s", start=0.0, description="effective full-cycle time now"),
    )
    PARAMETERS = (
        Variable("t_blowdown", "parameter", unit="s", start=1.0, description="feed + blowdown of the other bed"),
        Variable("t_purge", "parameter", unit="s", start=2.2, description="feed + purge of the other bed"),
        Variable("t_equalize", "parameter", unit="s", start=0.55, description="pressure equalisation"),
        Variable(
            "purge_opening",
            "parameter",
            unit="1",
            start=0.0,
            description="extra equalize opening during purge (0: the PSA unit's fixed purge orifice alone)",
        ),
        Variable("feed_during_equalize", "parameter", type="Boolean", start=True, description="feed next bed"),
        Variable("scale_min", "parameter", unit="1", start=0.5, description="lowest combined duration scale"),
        Variable("scale_max", "parameter", unit="1", start=2.0, description="highest combined duration scale"),
        Variable(
            "pattern",
            "parameter",
            type="String",
            start="",
            description="sequence file: a shipped name (controllers/sequences/NAME.toml) or a relative .toml path "
            "in the scenario's folder; empty: the built-in six steps from t_blowdown, t_purge, t_equalize",
        ),
    )

    def validate_parameters(self) -> None:
        p = self.p
        ts = self.sample_time
        for name in ("t_blowdown", "t_purge", "t_equalize"):
            value = p[name]
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= ts):
                raise SystemDefinitionError(
                    f"{self.name}: step duration '{name}' must be a finite time >= sample_time ({ts} s), got {value!r}"
                )
        if not (isinstance(p["purge_opening"], int | float) and 0.0 <= p["purge_opening"] <= 1.0):
            raise SystemDefinitionError(f"{self.name}: purge_opening must lie in 0..1, got {p['purge_opening']!r}")
        if not (0.0 < p["scale_min"] <= 1.0 <= p["scale_max"] and math.isfinite(p["scale_max"])):
            raise SystemDefinitionError(
                f"{self.name}: need 0 < scale_min <= 1 <= scale_max (finite), got {p['scale_min']}..{p['scale_max']}"
            )
        self.table = self._load_table()
        for k, step in enumerate(self.table.steps):
            if step.duration_s < ts:
                raise SystemDefinitionError(
                    f"{self.name}: step {k} ('{step.name}') of sequence '{self.table.source or self.table.name}' lasts {step.duration_s} s, "
                    f"less than the sample time {ts} s"
                )

    def _load_table(self) -> SequenceTable:
        p = self.p
        pattern = p["pattern"]
        if not isinstance(pattern, str):
            raise SystemDefinitionError(f"{self.name}: pattern must be a text (a sequence name or .toml path)")
        if not pattern:
            return skarstrom_table(
                p["t_blowdown"], p["t_purge"], p["t_equalize"], p["purge_opening"], bool(p["feed_during_equalize"])
            )
        return load_sequence(sequence_file(pattern, self.data_folder, f"{self.name}: pattern"))

    def reset(self) -> None:
        self._step = 0
        self._progress = 0.0
        self._cycles = 0
        self._commands = [0.0] * len(VALVES)
        self._out: dict[str, float] = {}
        self._write_outputs(self._moved_commands(), 1.0)

    def nominal_cycle_time(self) -> float:
        """Full-cycle time in seconds at scale 1."""
        return self.table.cycle_time_s

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        scale = self._scale(inputs["cycle_time_scale"]) * self._scale(inputs["cycle_time_trim"])
        scale = min(max(scale, self.p["scale_min"]), self.p["scale_max"])
        # The outputs of this sample are the current step's (ramped); then time advances by one sample.
        self._commands = self._moved_commands()
        self._write_outputs(self._commands, scale)
        ts = self.sample_time
        self._progress += ts / (self.table.steps[self._step].duration_s * scale)
        if self._progress >= 1.0 - 1e-9:
            self._progress = 0.0
            self._step += 1
            if self._step == len(self.table.steps):
                self._step = 0
                self._cycles += 1
        return self._out

    def _moved_commands(self) -> list[float]:
        """The commands one sample further towards the current step's openings, at the step's ramp rates."""
        step = self.table.steps[self._step]
        ts = self.sample_time
        moved = []
        for current, target in zip(self._commands, step.openings, strict=True):
            ramp = step.ramp_s if target > current else step.close_ramp_s
            if ramp <= 0.0:
                moved.append(target)
            elif target > current:
                moved.append(min(target, current + ts / ramp))
            else:
                moved.append(max(target, current - ts / ramp))
        return moved

    @staticmethod
    def _scale(value: float) -> float:
        return value if (math.isfinite(value) and value > 0.0) else 1.0

    def _write_outputs(self, commands: list[float], scale: float) -> None:
        out = self._out
        for name, value in zip(VALVES, commands, strict=True):
            out[name] = value
        out["step_index"] = float(self._step)
        out["cycle_count"] = float(self._cycles)
        out["cycle_time"] = self.nominal_cycle_time() * scale
