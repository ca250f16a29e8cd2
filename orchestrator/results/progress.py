"""A progress bar over simulated time with the real-time factor, for long runs in a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """tqdm bar in simulated seconds; shows the real-time factor (simulated s per wall s).

    Disabled (a no-op) in quiet mode and when the stream is not a terminal, so scripts and logs stay clean.
    """

    def __init__(self, start_time: float, stop_time: float, enabled: bool = True, stream: TextIO | None = None):
        self.start_time = start_time
        self.stop_time = stop_time
        stream = stream or sys.stderr
        self.enabled = enabled and hasattr(stream, "isatty") and stream.isatty()
        self._bar = None
        self._wall0 = time.perf_counter()
        self._shown = start_time
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=round(stop_time - start_time, 9),
                unit="s",
                unit_scale=False,
                file=stream,
                bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s sim [{elapsed}<{remaining}{postfix}]",
                leave=False,
            )

    def update(self, sim_time: float) -> None:
        if self._bar is None:
            return
        delta = sim_time - self._shown
        if delta <= 0:
            return
        self._shown = sim_time
        wall = time.perf_counter() - self._wall0
        rtf = (sim_time - self.start_time) / wall if wall > 0 else float("inf")
        self._bar.set_postfix_str(f"RTF {rtf:.1f}x", refresh=False)
        self._bar.update(delta)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
