"""SSP 1.0 (System Structure and Parameterization): export a scenario's system and import other tools' systems."""
