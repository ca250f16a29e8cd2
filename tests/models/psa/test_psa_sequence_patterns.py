"""The PSAUnit FMU driven by the sequencer's feed-end equalisation table (controllers/sequences/), closed loop.

Physical check: the pattern moves gas between the beds through the feed manifold (both feed valves open, vents shut),
so nothing may be created or lost: over the run, fed - delivered - vented equals the change of the inventory
(manifold, beds, tank) for each species; and during each equalisation step the two beds' pressures approach each
other.
"""

from __future__ import annotations

import textwrap

import numpy as np

from orchestrator.results.run import run

SPECIES = ("N2", "O2", "Ar")


def _run_pattern(tmp_path, pattern: str, stop_s: float):
    (tmp_path / "pattern.toml").write_text(
        textwrap.dedent(f"""
        extends = "rated_flow"
        [scenario]
        name = "pattern_{pattern}"
        [slaves.sequencer.parameters]
        pattern = "{pattern}"
        [outputs]
        record = ["psa.p_bed_A", "psa.p_bed_B", "psa.p_feed", "sequencer.step_index",
                  {", ".join(f'"psa.{n}[{i}]"' for n in ("N_feed", "N_product", "N_vent", "N_inventory") for i in (1, 2, 3))}]
        interval = 0.05
        """)
    )
    result = run(tmp_path / "pattern.toml", out=tmp_path / "out", stop_time=stop_s, plots=False)
    assert result.ok, result.error
    return result.signals


def test_feed_end_equalization_conserves_mass(tmp_path):
    s = _run_pattern(tmp_path, "feed_end_equalization", 60.0)
    for i, species in enumerate(SPECIES, start=1):
        fed = s[f"psa.N_feed[{i}]"].to_numpy()
        out = s[f"psa.N_product[{i}]"].to_numpy() + s[f"psa.N_vent[{i}]"].to_numpy()
        inventory = s[f"psa.N_inventory[{i}]"].to_numpy()
        imbalance = (fed - out) - (inventory - inventory[0])
        assert fed[-1] > 0
        assert np.max(np.abs(imbalance)) / fed[-1] < 1e-5, species
    # each equalisation step (index 1 and 3) closes the gap between the bed pressures
    step = s["sequencer.step_index"].to_numpy()
    gap = np.abs(s["psa.p_bed_A"].to_numpy() - s["psa.p_bed_B"].to_numpy())
    starts = np.flatnonzero(np.isin(step[1:], (1.0, 3.0)) & ~np.isin(step[:-1], (1.0, 3.0))) + 1
    ends = np.flatnonzero(np.isin(step[:-1], (1.0, 3.0)) & ~np.isin(step[1:], (1.0, 3.0)))
    pairs = [(a, b) for a in starts for b in ends if b > a and b - a < 20][:6]
    assert len(pairs) >= 4
    for a, b in pairs:
        print(f"equalisation at {s.index[a]:.2f} s: {gap[a] / 1e5:.3f} -> {gap[b] / 1e5:.3f} bar")
        assert gap[b] < 0.7 * gap[a], (s.index[a], gap[a], gap[b])
    assert gap[pairs[-1][0]] > 0.3e5  # a real pressure swing to equalise
