"""PSASequencer driven by a table of steps from a TOML file: shipped patterns, ramps, path rules, bad files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.sequence_table import SHIPPED_DIR, SHORT_NAMES, VALVES, load_sequence, parse_sequence
from controllers.sequencer import PSASequencer
from orchestrator.errors import SystemDefinitionError

TS = 0.05


def make(folder: Path | None = None, **params) -> PSASequencer:
    seq = PSASequencer("seq", TS)
    seq.data_folder = folder
    seq.setup(0.0, params)
    return seq


def run(seq: PSASequencer, seconds: float, t0: float = 0.0, scale: float = 1.0) -> list[dict[str, float]]:
    rows = []
    for k in range(round(seconds / TS)):
        t = t0 + k * TS
        seq.set_inputs({"cycle_time_scale": scale, "cycle_time_trim": 1.0})
        seq.step(t, TS)
        rows.append(dict(seq.get_outputs([*VALVES, "step_index", "cycle_count", "cycle_time"])))
    return rows


def test_shipped_skarstrom_file_is_the_built_in_cycle():
    """The shipped pattern file reproduces the sequencer's built-in six steps sample by sample (also scaled)."""
    for scale in (1.0, 1.3):
        built_in = run(make(), 16.0, scale=scale)
        from_file = run(make(pattern="skarstrom"), 16.0, scale=scale)
        assert from_file == built_in
    assert load_sequence(SHIPPED_DIR / "skarstrom.toml").cycle_time_s == pytest.approx(7.5)


def test_feed_end_equalization_pattern():
    """Both feed valves open and both vents shut while equalising; the product-end valve never opens."""
    seq = make(pattern="feed_end_equalization")
    rows = run(seq, 7.5 * 2)
    assert seq.table.cycle_time_s == pytest.approx(7.5)
    assert all(y["cmd_equalize"] == 0.0 for y in rows)
    equalising = [y for y in rows if y["step_index"] in (1.0, 3.0)]
    assert equalising
    assert all(y["cmd_vent_A"] == 0.0 and y["cmd_vent_B"] == 0.0 for y in equalising)
    # the feed valve of the bed about to produce opens over the 0.15 s ramp (3 samples), the other stays open
    first = [y for y in rows if y["step_index"] == 1.0][:4]
    assert [y["cmd_feed_B"] for y in first] == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0])
    assert all(y["cmd_feed_A"] == 1.0 for y in first)
    # never feed and vent the same bed
    assert all(min(y["cmd_feed_A"], y["cmd_vent_A"]) == 0 and min(y["cmd_feed_B"], y["cmd_vent_B"]) == 0 for y in rows)
    assert rows[-1]["cycle_count"] == 1.0 and rows[-1]["cycle_time"] == pytest.approx(7.5)


def test_ramps_open_and_close_at_their_rates(tmp_path):
    (tmp_path / "ramps.toml").write_text(
        textwrap.dedent("""
        [sequence]
        ramp_s = 0.2
        close_ramp_s = 0.1
        [[steps]]
        duration_s = 1.0
        open = { feed_A = 1.0, equalize = 0.5 }
        [[steps]]
        duration_s = 1.0
        open = { feed_B = 1.0 }
        ramp_s = 0.0
        """)
    )
    rows = run(make(tmp_path, pattern="ramps.toml"), 1.2)
    assert [y["cmd_feed_A"] for y in rows[:5]] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert [y["cmd_equalize"] for y in rows[:3]] == pytest.approx([0.25, 0.5, 0.5])  # a partial opening
    step2 = [y for y in rows if y["step_index"] == 1.0]
    assert [y["cmd_feed_A"] for y in step2[:3]] == pytest.approx([0.5, 0.0, 0.0])  # closes in 0.1 s
    assert [y["cmd_feed_B"] for y in step2[:2]] == [1.0, 1.0]  # the step's own ramp_s = 0: at once


def test_rollback_restores_ramps_and_step():
    seq = make(pattern="feed_end_equalization")
    run(seq, 3.25)
    state = seq.get_state()
    a = run(seq, 2.0, t0=3.25)
    seq.set_state(state)
    assert run(seq, 2.0, t0=3.25) == a


@pytest.mark.parametrize(
    "pattern, words",
    [
        ("no_such_pattern", "no shipped sequence"),
        ("/etc/passwd.toml", "relative .toml path"),
        ("../outside.toml", "relative .toml path"),
        ("sub\\x.toml", "relative .toml path"),
        ("missing.toml", "does not exist"),
        ("cycle.txt", "relative .toml path"),
    ],
)
def test_pattern_path_rules(tmp_path, pattern, words):
    with pytest.raises(SystemDefinitionError, match=words):
        make(tmp_path, pattern=pattern)


def test_pattern_link_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.toml"
    outside.write_text((SHIPPED_DIR / "skarstrom.toml").read_text())
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "link.toml").symlink_to(outside)
    with pytest.raises(SystemDefinitionError, match="outside the scenario's folder"):
        make(folder, pattern="link.toml")


@pytest.mark.parametrize(
    "text, words",
    [
        ("[[steps]]\nduration_s = 1.0\nopen = { feed_C = 1.0 }", "unknown valves"),
        ("[[steps]]\nduration_s = 1.0\nopen = { feed_A = 1.5 }", "open.feed_A"),
        ("[[steps]]\nduration_s = 0.0", "duration_s"),
        ("[[steps]]\nduration_s = 1.0\nramp = 0.1", "unknown key"),
        ("[sequence]\nramp_s = -1\n[[steps]]\nduration_s = 1.0", "ramp_s"),
        ("[sequence]\nname = 'x'", "at least one"),
        ("[[steps]]\nduration_s = 0.01", "less than the sample time"),
        ("steps = 3 = 4", "not a valid TOML"),
        ('[[steps]]\nduration_s = 1.0\nname = "a\\nb"', "one-line text"),
    ],
)
def test_bad_sequence_files_name_file_and_key(tmp_path, text, words):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(SystemDefinitionError, match=words) as err:
        make(tmp_path, pattern="bad.toml")
    assert "bad.toml" in str(err.value)


_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)  # fmt: skip
_open = st.dictionaries(st.sampled_from([*SHORT_NAMES, "feed_C"]), _values, max_size=4)
_step = st.dictionaries(st.sampled_from(["name", "duration_s", "open", "ramp_s", "close_ramp_s", "x"]),
                        st.one_of(_values, _open), max_size=5)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({"steps": st.one_of(st.lists(_step, max_size=4), _values)}))
def test_any_sequence_data_is_a_table_or_one_clear_error(data):
    """Fuzzed sequence data: a valid table (openings in 0..1, positive durations) or a SystemDefinitionError."""
    try:
        table = parse_sequence(data, "fuzz.toml")
    except SystemDefinitionError as err:
        assert "fuzz.toml" in str(err)
        return
    for step in table.steps:
        assert step.duration_s > 0 and all(0.0 <= v <= 1.0 for v in step.openings)
        assert len(step.openings) == len(VALVES)


def test_scenario_names_a_pattern_file_beside_it(tmp_path):
    """A scenario's sequencer reads a relative pattern file from the scenario's own folder, whatever the cwd."""
    from orchestrator.results.run import run as run_scenario

    (tmp_path / "cycle.toml").write_text(
        "[[steps]]\nduration_s = 0.5\nopen = { feed_A = 1.0 }\n[[steps]]\nduration_s = 0.5\nopen = { feed_B = 1.0 }\n"
    )
    (tmp_path / "seq.toml").write_text(
        textwrap.dedent("""
        [scenario]
        name = "seq_only"
        stop_time = 2.0
        [master]
        step = 0.05
        [slaves.sequencer]
        block = "controllers.sequencer:PSASequencer"
        sample_time = 0.05
        [slaves.sequencer.parameters]
        pattern = "cycle.toml"
        [outputs]
        record = ["sequencer.cmd_feed_A", "sequencer.cmd_feed_B", "sequencer.step_index"]
        interval = 0.05
        """)
    )
    result = run_scenario(tmp_path / "seq.toml", out=tmp_path / "out", plots=False)
    assert result.ok, result.error
    s = result.signals
    assert s["sequencer.cmd_feed_A"].max() == 1.0 and s["sequencer.cmd_feed_B"].max() == 1.0
    assert set(s["sequencer.step_index"].unique()) == {0.0, 1.0}
