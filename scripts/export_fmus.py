#!/usr/bin/env python3
"""Export the co-simulation FMUs: a thin wrapper around `o2twin export` (default: --all)."""

import sys

from orchestrator.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["export", *(sys.argv[1:] or ["--all"])]))
