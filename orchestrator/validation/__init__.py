"""Reference simulators used by tests and validation scripts: the Modelica model simulated directly (CasADi),
FMUs driven step by step, and the PSA validation runs (cyclic steady state, purity curve, cold start)."""
