"""The PythonBlock's compute-time record: percentiles in fixed memory."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from orchestrator.cosim.slaves.python_block import UpdateTimes


def test_percentiles_match_the_samples_within_the_bin_width() -> None:
    rng = np.random.default_rng(1)
    samples = rng.lognormal(np.log(2e-3), 0.8, 5000)
    times = UpdateTimes()
    for s in samples:
        times.add(float(s))
    summary = times.summary()
    assert summary["update_calls"] == 5000 and summary["update_max_s"] == samples.max()
    assert summary["update_p50_s"] == pytest.approx(np.percentile(samples, 50), rel=0.05)
    assert summary["update_p99_s"] == pytest.approx(np.percentile(samples, 99), rel=0.05)


def test_memory_does_not_grow_and_snapshots_share_the_record() -> None:
    times = UpdateTimes()
    size = len(times.counts)
    for _ in range(10_000):
        times.add(1e-4)
    assert len(times.counts) == size and copy.deepcopy(times) is times
    assert UpdateTimes().summary() == {}
