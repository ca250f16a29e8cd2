"""Serving the dashboard: the Streamlit command line for app.py, and a server started in the background (tests,
screenshots, benchmark) on a free local port.

The dashboard has no login: anyone who can reach its address can start runs and read the results folder. So it
binds the loopback address unless told otherwise, and binding another address logs a warning.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from orchestrator.errors import O2TwinError

log = logging.getLogger(__name__)

APP = Path(__file__).with_name("app.py")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
#: Set (to anything but "" or "0") by `o2twin dashboard --single-port` for the Streamlit process it becomes
#: (live_mode.py: the live view through the dashboard's port only, no live data server).
SINGLE_PORT_ENV = "O2TWIN_DASHBOARD_SINGLE_PORT"


def check_installed() -> None:
    if importlib.util.find_spec("streamlit") is None:
        raise O2TwinError("the dashboard needs Streamlit: pip install 'o2twin[dashboard]'")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_exposed(host: str) -> None:
    if not is_loopback(host):
        log.warning(
            "the dashboard listens on %s: it has no login, so anyone who can reach that address can start runs and "
            "read the results folder; keep it on 127.0.0.1 (the default) unless that network is trusted",
            host,
        )


def streamlit_command(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, extra: Sequence[str] = ()) -> list[str]:
    """The command that serves the dashboard (no browser opened, no usage statistics, no file watcher, no forced
    garbage collection after each script run)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--global.developmentMode", "false",
        # no full garbage collection after every script run: the live page's fragment runs 2.5 times a second and
        # gc.collect(2) over the server's heap was most of the server's CPU time (docs/dashboard.md, "Benchmark")
        "--runner.postScriptGC", "false",
        *extra,
    ]  # fmt: skip


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class DashboardServer:
    """`o2twin dashboard` (``--single-port`` if asked) started in the background on a free loopback port, in ``cwd``
    (whose results/ it shows);
    a context manager that waits until the server answers and stops it at the end (the browser tests, the
    screenshots and the benchmark use it)."""

    def __init__(
        self,
        cwd: str | os.PathLike | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        single_port: bool = False,
    ):
        self.cwd = cwd
        self.single_port = single_port
        self.port = port or free_port()
        self.url = f"http://{DEFAULT_HOST}:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> DashboardServer:
        check_installed()
        self._log = open(self.log_path, "wb") if self.log_path else None  # closed in __exit__
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "dashboard", "--port", str(self.port)]
            + (["--single-port"] if self.single_port else []),
            cwd=self.cwd,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its run workers too
        )
        try:
            self.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise O2TwinError(f"the dashboard server exited with code {self.process.returncode}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as ok:
                if ok.status == 200:
                    return
            time.sleep(0.2)
        raise O2TwinError(f"the dashboard server did not answer at {self.url} within {timeout_s:g} s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)  # a run in progress ends as "stopped"
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
