"""Sweep files: the documented format, and one clear error naming the file and the key for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.sweep.design import SweepDefinitionError
from orchestrator.sweep.studyfile import is_sweep_file, load_sweep_file

GOOD = """
[sweep]
scenario = "tiny"
name = "lag-study"
description = "gain and time constant of the lag"
stop_time = 1.5
seeds = 3

[set]
"src.level" = 2.0

[grid]
"lag.k" = [1.0, 2.0]
"lag.T" = { start = 0.5, stop = 1.5, num = 3 }

[samples]
n = 4
method = "random"
seed = 7
[samples.ranges]
"lag.x0" = [0.0, 0.1]
"""


def write(folder: Path, text: str, name: str = "study.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_sweep_file_gives_the_design(tiny_scenario):
    study = write(tiny_scenario.parent, GOOD)
    assert is_sweep_file(study) and not is_sweep_file(tiny_scenario)
    design = load_sweep_file(study)
    assert design.name == "lag-study" and design.stop_time == 1.5 and design.seeds == [0, 1, 2]
    assert design.scenario.name == "tiny" and Path(design.scenario.source) == tiny_scenario  # beside the file
    assert design.grid == {"lag.k": [1.0, 2.0], "lag.T": [0.5, 1.0, 1.5]}
    assert design.overrides == {"src.level": 2.0}
    assert design.sampling.n == 4 and design.sampling.method == "random" and design.sampling.seed == 7
    cases = design.cases()
    assert len(cases) == 2 * 3 * 4 * 3
    assert all(0.0 <= c.overrides["lag.x0"] <= 0.1 and c.overrides["src.level"] == 2.0 for c in cases)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[sweep]\nscenario = 'tiny'\nwhat = 1\n", "[sweep]: unknown key 'what'"),
        ("[sweep]\nstop_time = 1.0\n", "[sweep] needs scenario"),
        ("[sweep]\nscenario = 'tiny'\n[grids]\n", "top level: unknown key 'grids'"),
        ("[sweep]\nscenario = 'tiny'\nseeds = 0\n", "[sweep] seeds = 0"),
        ("[sweep]\nscenario = 'tiny'\nseeds = [1, 1]\n", "[sweep] seeds: a seed is listed twice"),
        ("[sweep]\nscenario = 'tiny'\nstop_time = -1\n", "[sweep] stop_time"),
        ("[sweep]\nscenario = 'tiny'\nname = 'a/b'\n", "[sweep] name"),
        ("[sweep]\nscenario = 'tiny'\n[grid]\n\"lag.k\" = 3\n", '[grid]."lag.k"'),
        ("[sweep]\nscenario = 'tiny'\n[grid]\n\"lag.k\" = {start = 0, stop = 1}\n", '[grid]."lag.k"'),
        ("[sweep]\nscenario = 'tiny'\n[grid]\nk = [1, 2]\n", "'k' is not a parameter address"),
        ("[sweep]\nscenario = 'tiny'\n[samples]\nn = 3\n", "[samples.ranges]"),
        ("[sweep]\nscenario = 'tiny'\n[samples]\nn = 3\nmethod = 'sobol'\n[samples.ranges]\n\"a.b\" = [0, 1]\n",
         "[samples] method"),
        ("[sweep]\nscenario = 'tiny'\n[samples]\nn = 3\n[samples.ranges]\n\"a.b\" = [1, 0]\n",
         '[samples.ranges] "a.b": the range'),
        ("[sweep]\nscenario = 'tiny'\n[set]\n\"a.b\" = [1]\n", '[set] "a.b"'),
        ("[sweep]\nscenario = 'tiny'\n[set]\n\"lag.k\" = 1\n[grid]\n\"lag.k\" = [1]\n", "both grid and set"),
        ("[sweep]\nscenario = '../tiny.toml'\n", "must be a scenario name or a .toml/.ssp path in"),
        ("[sweep]\nscenario = '/etc/tiny.toml'\n", "must be a scenario name or a .toml/.ssp path in"),
        ("[sweep]\nscenario = 'nope.toml'\n", "does not exist"),
        ("[sweep\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_mistakes_name_the_file_and_the_key(tiny_scenario, tmp_path, text, key):
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "tiny.toml").write_text(tiny_scenario.read_text(), encoding="utf-8")
    study = write(folder, text)
    with pytest.raises(SweepDefinitionError) as err:
        load_sweep_file(study)
    message = str(err.value)
    assert message.startswith(str(study)) and key in message, message
