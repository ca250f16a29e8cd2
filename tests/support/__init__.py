"""Shared test material: hand-written C test FMUs, Python blocks, export test cases, FMU sessions."""
