"""Fixtures shared by the closed-loop tests of tests/controllers."""

from __future__ import annotations

import pytest

from orchestrator.errors import O2TwinError

PLANT_MODELS = ("O2Twin.CoSim.Compressor", "O2Twin.CoSim.PSAUnit", "O2Twin.CoSim.Patient")


@pytest.fixture(scope="session")
def plant_fmus() -> None:
    """The plant FMUs the shipped scenarios use, exported (cached); the test skips where they cannot be built."""
    from orchestrator.export.api import export_model

    try:
        for model in PLANT_MODELS:
            export_model(model)
    except O2TwinError as err:
        pytest.skip(f"plant FMUs cannot be exported here, the closed loop is not run: {err}")
