"""Results files: the streamed .mat is a dsres file other tools read, CSV/MAT agree, an interrupted run is readable."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import scipy.io

from orchestrator.errors import SystemDefinitionError
from orchestrator.results.events import EventLog, read_events
from orchestrator.results.matfile import DsresWriter, read_dsres
from orchestrator.results.metrics import package_versions, read_metrics, write_metrics
from orchestrator.results.plots import check_plots, display_conversion, write_plots
from orchestrator.results.progress import Progress
from orchestrator.results.recorder import ResultRecorder
from orchestrator.results.signals import SignalWriter, read_signals_csv
from orchestrator.scenario.spec import PlotSpec


def _dymat_style(path):
    """Read a binTrans dsres file the way DyMat and OMPython do (names are columns, dataInfo rows)."""
    mat = scipy.io.loadmat(path, chars_as_strings=False)
    aclass = ["".join(r).rstrip() for r in mat["Aclass"]]
    names = ["".join(c).rstrip() for c in zip(*mat["name"], strict=True)]
    descr = ["".join(c).rstrip() for c in zip(*mat["description"], strict=True)]
    block, column = mat["dataInfo"][0, :], mat["dataInfo"][1, :]
    out = {}
    for n, b, c in zip(names, block, column, strict=True):
        if b == 1:
            out[n] = mat["data_1"][abs(c) - 1, 0] * np.sign(c)
        else:
            out[n] = mat["data_2"][abs(c) - 1, :] * np.sign(c)
    return aclass, names, descr, out, mat


def test_dsres_layout_matches_modelica_tools(tmp_path):
    path = tmp_path / "r.mat"
    w = DsresWriter(path, ["psa.p_tank", "pid.duty"], ["tank pressure", ""], ["Pa", None], {"psa.V": 0.5}, 2.0)
    t = 2.0 + np.arange(7) * 0.25
    for k, tk in enumerate(t):
        w.append(tk, [1e5 + k, math.sin(k)])
    w.close()
    aclass, names, descr, data, mat = _dymat_style(path)
    assert aclass == ["Atrajectory", "1.1", "", "binTrans"]
    assert names == ["time", "psa.p_tank", "pid.duty", "psa.V"]
    assert descr[1] == "tank pressure [Pa]" and descr[0].endswith("[s]")
    assert mat["dataInfo"].dtype == np.int32 and mat["dataInfo"].shape == (4, 4)
    assert mat["dataInfo"][:, 0].tolist() == [0, 1, 0, -1]
    assert mat["data_1"].tolist() == [[2.0, t[-1]], [0.5, 0.5]]
    np.testing.assert_array_equal(data["time"], t)
    np.testing.assert_array_equal(data["psa.p_tank"], 1e5 + np.arange(7))
    np.testing.assert_array_equal(data["pid.duty"], np.sin(np.arange(7)))
    assert data["psa.V"] == 0.5
    back = read_dsres(path)
    np.testing.assert_array_equal(back["psa.V"], np.full(7, 0.5))
    np.testing.assert_array_equal(back["pid.duty"], data["pid.duty"])


def test_dsres_readable_after_flush_without_close(tmp_path):
    """A run killed after a flush leaves a complete file: the column count on disk matches the data."""
    path = tmp_path / "r.mat"
    w = DsresWriter(path, ["a.x"])
    for k in range(5):
        w.append(0.1 * k, [k])
    w.flush()
    # read while the writer still holds the file open (as after a hard kill)
    np.testing.assert_array_equal(read_dsres(path)["a.x"], np.arange(5.0))
    w.append(0.5, [5.0])
    w.close()
    np.testing.assert_array_equal(read_dsres(path)["a.x"], np.arange(6.0))
    assert read_dsres(path)["time"][-1] == 0.5


def test_dsres_with_no_points_is_valid(tmp_path):
    path = tmp_path / "r.mat"
    DsresWriter(path, ["a.x", "b.y"]).close()
    data = read_dsres(path)
    assert data["time"].shape == (0,) and data["a.x"].shape == (0,)


def test_signal_writer_csv_and_mat_agree_exactly(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(50, 3)) * 10.0 ** rng.integers(-8, 8, size=(50, 3))
    w = SignalWriter(tmp_path, ["a.x", "a.y", "b.z"], units={"a.x": "Pa"})
    for k, row in enumerate(values):
        w.record(k * 0.01, row)
    w.close()
    w.close()  # idempotent
    csv = read_signals_csv(tmp_path / "signals.csv")
    mat = read_dsres(tmp_path / "result.mat")
    for i, name in enumerate(["a.x", "a.y", "b.z"]):
        np.testing.assert_array_equal(csv[name], values[:, i])  # repr() round-trips floats exactly
        np.testing.assert_array_equal(mat[name], values[:, i])
    np.testing.assert_array_equal(csv["time"], mat["time"])


def test_signal_writer_flushes_by_wall_time(tmp_path):
    w = SignalWriter(tmp_path, ["a.x"], flush_interval_s=0.0)
    w.record(0.0, [1.0])
    w.record(0.1, [2.0])
    # not closed: both rows must already be on disk in both files
    assert read_signals_csv(tmp_path / "signals.csv")["a.x"].tolist() == [1.0, 2.0]
    assert read_dsres(tmp_path / "result.mat")["a.x"].tolist() == [1.0, 2.0]
    w.close()


def test_csv_reader_drops_a_cut_line(tmp_path):
    path = tmp_path / "signals.csv"
    path.write_text("time,a.x\n0.0,1.0\n0.1,2.0\n0.2,")
    assert read_signals_csv(path)["a.x"].tolist() == [1.0, 2.0]


def test_signal_writer_rejects_wrong_width_and_duplicates(tmp_path):
    w = SignalWriter(tmp_path, ["a.x", "a.y"])
    with pytest.raises(ValueError, match="1 values for 2 signals"):
        w.record(0.0, [1.0])
    w.close()
    with pytest.raises(ValueError, match="recorded twice"):
        SignalWriter(tmp_path / "b", ["a.x", "a.x"])


def test_event_log_and_metrics(tmp_path):
    log = EventLog(tmp_path)
    log.log(1.5, "master", "override psa.cmd_feed_A = 1")
    log.log(2.0, "run", "failed", slave="psa")
    assert [e["time"] for e in read_events(tmp_path)] == [1.5, 2.0]  # flushed without close
    log.close()
    assert read_events(tmp_path / "events.jsonl")[1] == {"time": 2.0, "source": "run", "text": "failed", "slave": "psa"}
    write_metrics(tmp_path, {"rtf": np.float64(3.5), "bad": float("nan"), "nested": {"n": np.int64(2)}})
    m = read_metrics(tmp_path)
    assert m == {"rtf": 3.5, "bad": None, "nested": {"n": 2}}
    assert not any(p.suffix == ".tmp" for p in tmp_path.iterdir())
    versions = package_versions()
    assert versions["fmpy"] and versions["numpy"] == np.__version__


def test_recorder_protocol_streams_and_finishes(tmp_path):
    from orchestrator.cosim.master.recorder import Recorder

    rec = ResultRecorder(tmp_path, constants={"p.k": 2.0})
    assert isinstance(rec, Recorder)
    rec.on_start(["a.x", "b.y"], {"start_time": 0.0, "stop_time": 1.0, "units": {"a.x": "K"}})
    rec.on_sample(0.0, [1.0, 2.0])
    rec.on_event(0.5, "set a.k = 1")
    rec.on_sample(0.5, [3.0, 4.0])
    rec.on_finish({"status": "failed", "error": "boom"})
    rec.close()
    mat = read_dsres(tmp_path / "result.mat")
    assert mat["b.y"].tolist() == [2.0, 4.0] and mat["p.k"].tolist() == [2.0, 2.0]
    descr = _dymat_style(tmp_path / "result.mat")[2]
    assert descr[1].endswith("[K]")
    assert read_events(tmp_path) == [{"time": 0.5, "source": "master", "text": "set a.k = 1"}]
    assert rec.finish_metadata["status"] == "failed"


def test_plots_written_with_display_units(tmp_path):
    t = np.linspace(0, 10, 50)
    data = {"time": t, "psa.p_tank": 2e5 + 0 * t, "psa.T": 300 + t, "pid.duty": 0.5 + 0 * t}
    units = {"psa.p_tank": "Pa", "psa.T": "K", "pid.duty": "1"}
    files = write_plots(tmp_path, data, units, [PlotSpec("Tank", ["psa.p_tank"], unit="bar(g)")])
    assert [f.name for f in files] == ["tank.png"] and files[0].stat().st_size > 1000
    defaults = write_plots(tmp_path, data, units)  # one per slave and unit
    assert sorted(f.name for f in defaults) == ["pid_1.png", "psa_k.png", "psa_pa.png"]
    label, convert = display_conversion("Pa", "bar(g)")
    assert label == "bar(g)" and convert(201325.0) == pytest.approx(1.0)
    assert display_conversion("1", None)[0] == "1"  # fractions are shown in % only when asked
    with pytest.raises(SystemDefinitionError, match="cannot show a signal in 'K' as 'bar\\(g\\)'"):
        display_conversion("K", "bar(g)")
    with pytest.raises(SystemDefinitionError, match=r"signal .psa\.x. is not recorded"):
        check_plots([PlotSpec("t", ["psa.x"])], units, "s.toml")


def test_progress_is_off_without_a_terminal(tmp_path):
    with open(tmp_path / "out.txt", "w") as f:
        p = Progress(0.0, 10.0, enabled=True, stream=f)
        assert not p.enabled
        p.update(5.0)
        p.close()
    assert os.path.getsize(tmp_path / "out.txt") == 0


def test_progress_shows_rtf_on_a_terminal():
    import pty

    master_fd, slave_fd = pty.openpty()
    try:
        with os.fdopen(slave_fd, "w") as stream:
            p = Progress(0.0, 10.0, enabled=True, stream=stream)
            assert p.enabled
            p.update(5.0)
            p._bar.refresh()
            p.close()
        chunks = []
        while True:  # everything the bar wrote, until the terminal's other end is closed
            try:
                chunk = os.read(master_fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        text = b"".join(chunks).decode()
    finally:
        os.close(master_fd)
    assert "RTF" in text and "/10.0 s sim" in text


def test_dymat_reads_our_result_file(tmp_path):
    """DyMat, the reader OpenModelica and Dymola users script with, opens the streamed file."""
    dymat = pytest.importorskip(
        "DyMat", reason="DyMat not installed (pip install dymat); the layout test above still runs"
    )
    path = tmp_path / "r.mat"
    w = DsresWriter(path, ["psa.p_tank", "pid.duty"], ["tank pressure", ""], ["Pa", None], {"psa.V": 0.5}, 0.0)
    for k in range(5):
        w.append(0.5 * k, [1e5 + k, 0.1 * k])
    w.close()
    d = dymat.DyMatFile(str(path))
    assert set(d.names()) == {"psa.p_tank", "pid.duty", "psa.V"}
    np.testing.assert_array_equal(d.data("psa.p_tank"), 1e5 + np.arange(5))
    np.testing.assert_array_equal(d.abscissa("psa.p_tank", valuesOnly=True), 0.5 * np.arange(5))
    assert d.description("psa.p_tank") == "tank pressure [Pa]"
    assert d.data("psa.V")[0] == 0.5
