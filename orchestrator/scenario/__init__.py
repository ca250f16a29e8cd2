"""Scenarios: the scenario as data (spec), reading TOML (load, parse, toml, overrides), SSP archives (ssp/) and
turning a spec into a co-simulation System (build). Sits above orchestrator.cosim."""
