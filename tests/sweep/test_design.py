"""A study's design: grid spellings, Latin-hypercube and random samples, seeds, and the cases they make."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.sweep.case import Case, case_id, flatten
from orchestrator.sweep.design import (
    MAX_SEED_COUNT,
    Sampling,
    SweepDefinitionError,
    SweepDesign,
    assignments_to_grid,
    parse_grid,
    parse_range,
    parse_seeds,
)


def test_grid_spellings():
    assert parse_grid("psa.blockage=0:0.5:6") == ("psa.blockage", [0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5])
    assert parse_grid("patient.copd=0, 0.5,1") == ("patient.copd", [0, 0.5, 1])
    assert parse_grid('titrator.mode=["a", "b"]') == ("titrator.mode", ["a", "b"])
    assert parse_grid("pid.manual=true,false") == ("pid.manual", [True, False])
    assert parse_grid("x.y=3:3:1") == ("x.y", [3.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("psa.blockage", "expected SLAVE.PARAMETER=VALUES"),
        ("blockage=0:1:3", "not a parameter address"),
        ("psa.blockage=0:1:x", "two numbers and a whole number"),
        ("psa.blockage=0:1:0", "NUM >= 1"),
        ("psa.blockage=[1, [2]]", "is not a number"),
    ],
)
def test_bad_grids_name_the_option(text, message):
    with pytest.raises(SweepDefinitionError, match=message) as err:
        parse_grid(text)
    assert "--grid" in str(err.value)


def test_ranges_and_seeds():
    assert parse_range("patient.copd=0:1") == ("patient.copd", (0.0, 1.0))
    with pytest.raises(SweepDefinitionError, match="LOW < HIGH"):
        parse_range("patient.copd=1:0")
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("7,3") == [7, 3]
    for bad in ("x", "-1,2", "1,1"):
        with pytest.raises(SweepDefinitionError, match="--seeds"):
            parse_seeds(bad)


def test_a_seed_written_as_a_count_is_refused_before_millions_of_cases_are_built():
    assert parse_seeds("1000000,") == [1000000]
    assert len(parse_seeds(str(MAX_SEED_COUNT))) == MAX_SEED_COUNT
    with pytest.raises(SweepDefinitionError, match=r"write it with a comma: --seeds 1000000,"):
        parse_seeds("1000000")
    with pytest.raises(SweepDefinitionError, match="given twice"):
        assignments_to_grid(["a.b=1,2", "a.b=3"])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), d=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_latin_hypercube_puts_one_point_in_every_stratum(n, d, seed):
    ranges = {f"s.p{i}": (-1.0 - i, 2.0 + i) for i in range(d)}
    points = Sampling(n, ranges, "lhs", seed).points()
    assert len(points) == n
    for name, (low, high) in ranges.items():
        values = np.array([p[name] for p in points])
        assert ((values >= low) & (values <= high)).all()
        strata = np.floor((values - low) / (high - low) * n).astype(int)
        assert sorted(strata) == list(range(n))  # exactly one point per 1/n of the range
    assert Sampling(n, ranges, "lhs", seed).points() == points  # reproducible from the sampler's seed


def test_random_sampling_is_reproducible_and_in_range():
    a = Sampling(50, {"s.x": (2.0, 3.0)}, "random", 1).points()
    assert a == Sampling(50, {"s.x": (2.0, 3.0)}, "random", 1).points()
    assert a != Sampling(50, {"s.x": (2.0, 3.0)}, "random", 2).points()
    assert all(2.0 <= p["s.x"] <= 3.0 for p in a)


def test_cases_are_the_product_of_grid_samples_and_seeds():
    design = SweepDesign(
        scenario="default",
        grid={"a.x": [1, 2], "b.y": [10, 20, 30]},
        sampling=Sampling(2, {"c.z": (0.0, 1.0)}, "lhs", 0),
        seeds=[5, 6],
        overrides={"d.w": 0.5},
        stop_time=60.0,
    )
    cases = design.cases()
    assert len(cases) == 2 * 3 * 2 * 2
    assert [c.seed for c in cases[:4]] == [5, 6, 5, 6]  # seeds vary fastest
    assert cases[0].overrides["a.x"] == 1 and cases[0].overrides["b.y"] == 10 and cases[0].overrides["d.w"] == 0.5
    assert cases[-1].overrides["a.x"] == 2 and cases[-1].overrides["b.y"] == 30
    assert {c.stop_time for c in cases} == {60.0} and {c.scenario for c in cases} == {"default"}
    assert design.varied() == ["a.x", "b.y", "c.z", "seed"]


def test_a_parameter_is_varied_in_one_place_only():
    with pytest.raises(SweepDefinitionError, match="both grid and set"):
        SweepDesign(grid={"a.x": [1]}, overrides={"a.x": 2}).cases()


def test_case_ids_follow_the_parameters():
    base = case_id("scn", Case("default", {"a.x": 1.0, "b.y": 2}, seed=1))
    assert base == case_id("scn", Case("default", {"b.y": 2, "a.x": 1.0}, seed=1))  # order does not matter
    assert base != case_id("scn", Case("default", {"a.x": 1.0000000000000002, "b.y": 2}, seed=1))
    assert base != case_id("scn", Case("default", {"a.x": 1.0, "b.y": 2}, seed=2))
    assert base != case_id("other", Case("default", {"a.x": 1.0, "b.y": 2}, seed=1))
    assert base != case_id("scn", Case("default", {"a.x": 1.0, "b.y": 2}, seed=1, stop_time=5.0))


def test_flatten_nests_with_dots_and_keeps_scalars():
    assert flatten({"a": 1, "b": {"c": 2.5, "d": {"e": "x"}}, "f": [1, 2], "g": None}) == {
        "a": 1,
        "b.c": 2.5,
        "b.d.e": "x",
        "f": "[1, 2]",
        "g": None,
    }
