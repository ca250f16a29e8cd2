"""The `o2twin` command line: sub-commands discovered, global options accepted before or after the sub-command."""

from __future__ import annotations

import pytest

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
