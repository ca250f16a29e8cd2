"""What the host measures on the HIL link: counts of everything that went right or wrong (LinkStats), every received
sample (SampleLog: kept in memory and streamed to device_samples.csv as it arrives), and the figures for
metrics.json (link_metrics: counts, command latency and heartbeat round trip)."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from orchestrator.hil.link.realtime import percentiles_ms

#: Leading columns of device_samples.csv (the sensor values follow, in description order).
SAMPLE_COLUMNS = ("wall_s", "sim_time_s", "boot_id", "device_time_s", "seq", "command_seq", "status")


@dataclass
class LinkStats:
    """Counts of everything that went wrong (or right) on the link; written to metrics.json under "hil"."""

    frames: int = 0
    bad_crc: int = 0
    bad_cobs: int = 0
    oversize: int = 0
    undersize: int = 0
    bytes_discarded: int = 0
    protocol_errors: int = 0
    samples: int = 0  #: samples recorded (new + late)
    samples_late: int = 0  #: reordered samples (recorded, but not used as the current value)
    duplicates: int = 0  #: duplicated frames (dropped)
    reordered: int = 0
    dropped: int = 0  #: gaps in the device's sequence numbers (frames that never arrived)
    out_of_window: int = 0  #: frames whose sequence number is far from the newest (stray or forged): dropped
    nacks: int = 0
    faults: int = 0
    commands_sent: int = 0
    link_losses: int = 0  #: times the link went from ok to not ok
    recoveries: int = 0
    device_restarts: int = 0
    port_lost: int = 0
    reopens: int = 0
    failsafe_reports: int = 0  #: FAULT frames saying the device fail-safe engaged (command loss or its own limits)
    command_latency_s: list[float] = field(default_factory=list)  #: COMMAND sent -> first SAMPLE that acks it
    heartbeat_rtt_s: list[float] = field(default_factory=list)


class SampleLog:
    """Every received sample (late ones too), as rows ``SAMPLE_COLUMNS + sensor values``: in ``records``, and
    appended to a CSV file as they arrive when ``open(path)`` named one (flushed on link loss, so a failed run keeps
    it)."""

    def __init__(self, sensor_names: list[str]) -> None:
        self.sensor_names = sensor_names
        self.records: list[tuple[Any, ...]] = []
        self._file: IO[str] | None = None
        self._csv: Any = None

    def open(self, path: str | None) -> None:
        if not path:
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - kept open for the session
        self._csv = csv.writer(self._file)
        self._csv.writerow([*SAMPLE_COLUMNS, *self.sensor_names])

    def add(self, row: tuple[Any, ...]) -> None:
        self.records.append(row)
        if self._csv is not None:
            self._csv.writerow(row)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._csv = None


def link_metrics(stats: LinkStats, **settings: Any) -> dict[str, Any]:
    """metrics.json's "hil" figures: every count, latency and round-trip p50/p99/max in ms, and the settings."""
    d = asdict(stats)
    lat = percentiles_ms(d.pop("command_latency_s"))
    rtt = percentiles_ms(d.pop("heartbeat_rtt_s"))
    d.update({"command_latency_p50_ms": lat["p50_ms"], "command_latency_p99_ms": lat["p99_ms"],
              "command_latency_max_ms": lat["max_ms"], "heartbeat_rtt_p50_ms": rtt["p50_ms"],
              "heartbeat_rtt_p99_ms": rtt["p99_ms"], "heartbeat_rtt_max_ms": rtt["max_ms"]})  # fmt: skip
    d.update(settings)
    return d
