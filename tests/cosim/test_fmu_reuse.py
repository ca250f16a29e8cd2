"""Unpacked FMUs lent from slave to slave (orchestrator.cosim.slaves.fmu_reuse), as sweep workers use them: a later
slave of the same FMU file reuses a terminated slave's folder and computes the same values; live slaves never share
a folder; a changed FMU file, a binary that stays loaded, or a slave terminated twice never lends a folder wrongly."""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

import pytest

from orchestrator.cosim.slaves import fmu_reuse
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave


@pytest.fixture
def lending(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reuse switched on for this test only (keep_unpacked_fmus lasts a process's life)."""
    monkeypatch.setattr(fmu_reuse, "_lender", fmu_reuse._Lender())


def lag_run(slave: FmuCoSimSlave, steps: int = 20) -> list[float]:
    """Step the Lag FMU (y' = (k*u - y)/T) with a constant input; its output after each step."""
    slave.setup(0.0, {"k": 2.0, "T": 0.3})
    slave.set_inputs({"u": 1.5})
    values = []
    for i in range(steps):
        slave.step(i * 0.05, 0.05)
        values.append(slave.get_outputs(["y"])["y"])
    return values


def test_a_later_slave_reuses_the_folder_and_computes_the_same_values(lag_fmu: Path, lending: None) -> None:
    first = FmuCoSimSlave("lag", lag_fmu)
    folder = first.unpacked.directory
    reference = lag_run(first)
    first.terminate()
    assert folder is not None and Path(folder).is_dir() and fmu_reuse.kept_unpacked_fmus() == 1
    second = FmuCoSimSlave("lag", lag_fmu)
    assert second.unpacked.directory == folder and fmu_reuse.kept_unpacked_fmus() == 0
    assert lag_run(second) == reference  # bit for bit: the binary was loaded afresh from the same files
    second.terminate()


def test_live_slaves_of_one_fmu_never_share_a_folder(lag_fmu: Path, lending: None) -> None:
    a, b = FmuCoSimSlave("a", lag_fmu), FmuCoSimSlave("b", lag_fmu)
    assert a.unpacked.directory != b.unpacked.directory
    a.terminate()
    b.terminate()
    c, d = FmuCoSimSlave("c", lag_fmu), FmuCoSimSlave("d", lag_fmu)
    assert {c.unpacked.directory, d.unpacked.directory} == {a.unpacked.directory, b.unpacked.directory}
    c.terminate()
    d.terminate()


def test_terminating_twice_gives_nothing_back_twice(lag_fmu: Path, lending: None) -> None:
    first = FmuCoSimSlave("lag", lag_fmu)
    lag_run(first, steps=1)
    first.terminate()
    second = FmuCoSimSlave("lag", lag_fmu)
    first.terminate()  # a second terminate (a failure path) must leave the folder, now second's, alone
    assert second.unpacked.directory is not None and Path(second.unpacked.directory).is_dir()
    third = FmuCoSimSlave("lag", lag_fmu)
    assert third.unpacked.directory != second.unpacked.directory
    lag_run(second, steps=1)
    second.terminate()
    third.terminate()


def test_a_changed_fmu_file_is_unpacked_afresh(lag_fmu: Path, lending: None, tmp_path: Path) -> None:
    copy = tmp_path / "Lag.fmu"
    copy.write_bytes(lag_fmu.read_bytes())
    first = FmuCoSimSlave("lag", copy)
    first.terminate()
    later = time.time() + 10
    os.utime(copy, (later, later))  # re-exported: a new modification time
    second = FmuCoSimSlave("lag", copy)
    assert second.unpacked.directory != first.unpacked.directory
    second.terminate()


def test_a_folder_whose_binary_stays_loaded_is_removed_not_lent(lag_fmu: Path, lending: None) -> None:
    slave = FmuCoSimSlave("lag", lag_fmu)
    lag_run(slave, steps=1)
    (binary,) = slave.unpacked.loaded_binaries
    held = ctypes.CDLL(str(binary))  # another reference: freeing the instance cannot unload the library
    try:
        slave.terminate()
        assert fmu_reuse.kept_unpacked_fmus() == 0
        assert slave.unpacked.directory is None
    finally:
        import _ctypes

        _ctypes.dlclose(held._handle)


def test_without_reuse_a_terminated_slave_removes_its_folder(lag_fmu: Path) -> None:
    assert fmu_reuse._lender is None  # the test process never switches reuse on for good
    slave = FmuCoSimSlave("lag", lag_fmu)
    folder = slave.unpacked.directory
    lag_run(slave, steps=1)
    slave.terminate()
    assert folder is not None and not Path(folder).exists()
