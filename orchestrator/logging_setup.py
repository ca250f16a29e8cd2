"""Logging configured once, by the CLI; library code only calls logging.getLogger(__name__)."""

import logging


def configure_logging(verbosity: int = 0, quiet: bool = False) -> None:
    """Route every logger to stderr; -v shows INFO from libraries, -vv DEBUG; --quiet shows warnings only."""
    level = logging.WARNING if quiet else (logging.INFO if verbosity <= 1 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    if verbosity == 0 and not quiet:
        # The o2twin loggers speak at INFO by default; third-party chatter stays at WARNING.
        logging.getLogger().setLevel(logging.WARNING)
        for name in ("orchestrator", "controllers", "o2twin"):
            logging.getLogger(name).setLevel(logging.INFO)
