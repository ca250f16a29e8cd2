"""Where the dashboard listens: the loopback address unless --host says otherwise, and a warning when it does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orchestrator.cli.main import build_parser
from orchestrator.dashboard.server import DashboardServer, streamlit_command, warn_if_exposed


def listening_addresses(port: int) -> set[str]:
    """The IPv4/IPv6 addresses (hex, as /proc/net/tcp* writes them) with a socket listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp to see listening sockets")
def test_o2twin_dashboard_listens_on_the_loopback_address_only_by_default(tmp_path):
    with DashboardServer(cwd=tmp_path) as server:  # `o2twin dashboard --port P`, no --host
        assert listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1, and no 0.0.0.0 or :: socket


def test_the_host_flag_is_passed_on_and_a_non_loopback_address_is_warned_about(caplog):
    args = build_parser().parse_args(["dashboard"])
    assert args.host == "127.0.0.1"
    args = build_parser().parse_args(["dashboard", "--host", "0.0.0.0", "--port", "8600"])
    command = streamlit_command(args.host, args.port)
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    assert command[command.index("--server.port") + 1] == "8600"
    # the live page's redraws stay cheap for the server (a full GC after each fragment run was most of its CPU)
    assert command[command.index("--runner.postScriptGC") + 1] == "false"
    with caplog.at_level(logging.WARNING, logger="orchestrator.dashboard.server"):
        for quiet in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
            warn_if_exposed(quiet)
        assert not caplog.records
        warn_if_exposed("0.0.0.0")
        warn_if_exposed("192.168.1.20")
    assert len(caplog.records) == 2 and all("no login" in r.getMessage() for r in caplog.records)
