"""Fixtures of the dashboard tests: the concentrator's FMUs built before any timed wait, a virtual HIL device."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

CONCENTRATOR_MODELS = ("O2Twin.CoSim.Compressor", "O2Twin.CoSim.PSAUnit", "O2Twin.CoSim.Patient")


@pytest.fixture(scope="session")
def concentrator_fmus() -> None:
    """Export (or find in the cache) the FMUs the default scenario runs, so a live run starts in seconds."""
    from orchestrator.export import export_model

    for model in CONCENTRATOR_MODELS:
        export_model(model)


@pytest.fixture
def virtual_device(concentrator_fmus) -> Iterator[str]:
    """`o2twin device --virtual`: the plant FMUs in real time behind a pseudo-terminal; yields its serial:// URL."""
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "device", "--virtual"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        found = re.search(r" on (/\S+)", first)
        assert found, f"o2twin device --virtual printed {first!r}"
        yield f"serial://{found.group(1)}"
    finally:
        proc.terminate()
        proc.wait(10)
