"""The `o2twin` command line: sub-commands discovered, global options accepted before or after the sub-command."""

from __future__ import annotations

import os
import signal

import pytest

from orchestrator.cli import main as cli_main
from orchestrator.cli.main import build_parser, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in ("export", "run", "scenarios", "ssp", "device"):
        assert name in text


@pytest.mark.parametrize("argv", [["-q", "run"], ["run", "-q"], ["run", "--quiet"]])
def test_quiet_before_or_after_the_subcommand(argv):
    args = build_parser().parse_args(argv)
    assert args.quiet is True and args.verbose == 0


def test_verbose_counts_after_the_subcommand():
    args = build_parser().parse_args(["scenarios", "-vv"])
    assert args.verbose == 2 and args.quiet is False


def test_unknown_scenario_is_one_clear_error(capsys):
    assert main(["run", "no_such_scenario"]) == 2
    err = capsys.readouterr().err
    assert "no scenario 'no_such_scenario'" in err and "Traceback" not in err


def test_log_lines_follow_the_current_stderr(capsys):
    """main() twice in one process with stderr swapped in between (pytest's capture does this): no 'Logging error'
    from a handler still bound to the first, closed stream."""
    import io
    import logging
    import sys

    main(["scenarios"])
    old, sys.stderr = sys.stderr, io.StringIO()
    try:
        logging.getLogger("orchestrator.test").warning("after the swap")
        assert "after the swap" in sys.stderr.getvalue()
    finally:
        sys.stderr = old


def test_run_under_a_controller_set(tmp_path, capsys):
    """--controllers fixed-flow: the run's scenario has the set's FixedFlow block in place of the titrator, and its
    2 L/min command (recorded only under that set, in SI) is in the run's signals."""
    import tomllib

    from orchestrator.results.signals import read_signals_csv

    out = tmp_path / "run"
    argv = ["run", "default", "--controllers", "fixed-flow", "--stop-time", "5", "--out", str(out), "--no-plots", "-q"]
    assert main(argv) == 0
    saved = tomllib.loads((out / "scenario.toml").read_text(encoding="utf-8"))
    assert "manual" in saved["slaves"] and "titrator" not in saved["slaves"]
    signals = read_signals_csv(out / "signals.csv")
    assert "manual.Q_set" in signals and all(abs(v - 2.0 / 60_000) < 1e-12 for v in signals["manual.Q_set"])  # m3/s


def test_unknown_controller_set_is_one_clear_error(capsys):
    assert main(["run", "default", "--controllers", "no_such_set"]) == 2
    err = capsys.readouterr().err
    assert "no controller set 'no_such_set'" in err and "fixed-flow" in err and "Traceback" not in err


def test_ctrl_c_while_the_commands_import_exits_130_without_a_traceback(monkeypatch, capsys):
    """A Ctrl-C that lands inside a native extension's initialisation must not reach it: there a KeyboardInterrupt
    becomes the module's ImportError, printed with a traceback (scipy.optimize's, pybind11 "initialization failed",
    seen under load by test_hil_agent_cli). The command modules' import below is such a module."""
    real_modules = cli_main._command_modules

    def modules_with_native_init() -> list:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, during the import
            for _ in range(1000):  # Python code runs on, as after a native init returns: the handler runs here
                pass
        except KeyboardInterrupt as err:
            raise ImportError("initialization failed") from err
        return real_modules()

    monkeypatch.setattr(cli_main, "_command_modules", modules_with_native_init)
    assert main(["scenarios"]) == 130
    assert "o2twin: interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C acts at once again afterwards
