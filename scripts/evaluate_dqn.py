"""Evaluate supervisors on held-out episodes of the DQN environment and write the table docs/rl.md quotes.

Controllers: "fixed" (always hold: the shipped pressure schedule and nominal cycle), "random", and policy files
under policies/ (run by the DQNSupervisor block itself, with numpy). Episodes: the first --seeds held-out seeds
(orchestrator.rl.episodes), drawn from the training and the held-out scenarios. Writes CSV rows per episode
(--out), a summary per controller on stdout, and with --observations the observations seen (for
tests/rl/test_policy_equivalence.py).

    python scripts/evaluate_dqn.py --controllers fixed random dqn/policy.npz --seeds 10 --out policies/dqn/evaluation.csv
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.rl.evaluate import evaluate


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per controller: mean return, energy per litre of O2 over all episodes, time in target, alarms, interventions."""
    rows = []
    for controller, group in table.groupby("controller", sort=False):
        rows.append(
            {
                "controller": controller,
                "episodes": len(group),
                "mean_return": group["episode_return"].mean(),
                "energy_wh_per_l_o2": group["energy_wh"].sum() / group["o2_l"].sum(),
                "time_in_target_pct": group["time_in_target_pct"].mean(),
                "purity_shortfall": group["purity_shortfall"].mean(),
                "alarms_raised": int(group["alarms_raised"].sum()),
                "watchdog_intervention_pct": group["watchdog_intervention_pct"].mean(),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--controllers", nargs="+", default=["fixed", "random"], help="fixed, random, or policy files")
    parser.add_argument("--seeds", type=int, default=10, help="number of held-out seeds (10)")
    parser.add_argument("--out", type=Path, required=True, help="CSV of the episodes (appended to if it exists)")
    parser.add_argument("--observations", type=Path, help="write the observations seen here (.npy)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = evaluate(args.controllers, args.seeds)
    table = pd.DataFrame([r.row() for r in results])
    if args.out.exists():
        table = pd.concat([pd.read_csv(args.out), table], ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    if args.observations is not None:
        obs = np.array([o for r in results for o in r.observations], dtype=np.float32)
        np.save(args.observations, obs)
    print(summary(table).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
