"""Logging configured once, by the CLI; library code only calls logging.getLogger(__name__).

The one other channel is each FMU's own log, ``o2twin.fmu.<instance>`` (orchestrator/cosim/slaves/fmu.py), named by
the slave so that users filter an FMU's messages by the name they gave it in the scenario.
"""

import logging
import sys
from typing import TextIO


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record is emitted, not when the handler was made.

    main() may run several times in one process (tests, notebooks) while sys.stderr is swapped (pytest's capture,
    tqdm's redirection): a handler bound to an old stream would write to a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(verbosity: int = 0, quiet: bool = False) -> None:
    """Route every logger to stderr; -v shows INFO from libraries, -vv DEBUG; --quiet shows warnings only."""
    level = logging.WARNING if quiet else (logging.INFO if verbosity <= 1 else logging.DEBUG)
    handler = _CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if verbosity == 0 and not quiet:
        # The o2twin loggers speak at INFO by default; third-party chatter stays at WARNING.
        logging.getLogger().setLevel(logging.WARNING)
        for name in ("orchestrator", "controllers", "o2twin"):
            logging.getLogger(name).setLevel(logging.INFO)
