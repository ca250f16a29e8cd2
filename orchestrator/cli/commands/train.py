"""Train a learning controller on the twin. Today: `o2twin train dqn`, the DQN supervisor (docs/rl.md).

Stable-Baselines3 DQN on the Gymnasium environment orchestrator.rl.env.ConcentratorEnv, with --envs environments in
as many processes. Writes to --out: model.zip (SB3), policy.npz (the Q-network controllers/dqn.py runs with numpy),
provenance.json (seed, timesteps, commit, hashes), curve.csv and curve.png (episode return, energy per litre of O2,
time in target), checkpoints/ every --checkpoint-every steps, and with --tensorboard DIR TensorBoard event files
(view them with `tensorboard --logdir DIR`). The same --timesteps, --seed and --envs reproduce
a policy (the shipped one's command is in policies/dqn/provenance.json). Needs the rl extra: pip install -e '.[rl]'.

Examples:
  o2twin train dqn --timesteps 8000 --seed 0 --out results/train/dqn
  o2twin train dqn --timesteps 200 --envs 1 --episode-s 60 --out /tmp/dqn-smoke --tensorboard /tmp/dqn-tb
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from orchestrator.errors import O2TwinError

NAME = "train"
HELP = "train a learning controller on the twin (dqn: the DQN supervisor, Stable-Baselines3)"

log = logging.getLogger("o2twin")


class MissingExtraError(O2TwinError):
    """The rl extra (gymnasium, stable-baselines3, torch) is not installed."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("algorithm", choices=["dqn"], help="what to train (dqn: the DQN supervisor)")
    parser.add_argument("--timesteps", type=int, required=True, help="supervisory periods to train, all envs together")
    parser.add_argument("--seed", type=int, default=0, help="seed of the network, exploration and episodes (0)")
    parser.add_argument("--out", type=Path, default=Path("results/train/dqn"), help="output folder")
    parser.add_argument("--envs", type=int, default=2, help="environments, each in its own process (2)")
    parser.add_argument("--warmup-s", type=float, default=240.0, help="cold start before the first decision (240 s)")
    parser.add_argument("--episode-s", type=float, default=360.0, help="decisions per episode, in seconds (360 s)")
    parser.add_argument(
        "--checkpoint-every", type=int, default=2000, help="export a checkpoint every N steps (0: none)"
    )
    parser.add_argument(
        "--tensorboard", type=Path, metavar="DIR", help="also write TensorBoard event files under DIR (a dqn_N per run)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        import stable_baselines3  # noqa: F401
    except ImportError as err:
        raise MissingExtraError(
            f"o2twin train needs the rl extra ({err.name} is missing): pip install -e '.[rl]'"
        ) from err
    if args.tensorboard is not None:
        try:
            import tensorboard  # noqa: F401
        except ImportError as err:
            raise MissingExtraError(
                "--tensorboard needs the tensorboard package (in the rl extra): pip install -e '.[rl]'"
            ) from err
    from orchestrator.rl.train import TrainConfig, train_dqn

    if args.timesteps < 1 or args.envs < 1:
        raise O2TwinError("--timesteps and --envs must be at least 1")
    config = TrainConfig(timesteps=args.timesteps, seed=args.seed, n_envs=args.envs, warmup_s=args.warmup_s,
                         episode_s=args.episode_s, checkpoint_every=args.checkpoint_every)  # fmt: skip
    provenance = train_dqn(config, args.out, tensorboard=args.tensorboard)
    log.info("trained %d steps in %.0f s: %s (sha256 %s)", args.timesteps, provenance["wall_time_s"],
             args.out / "policy.npz", provenance["policy_sha256"][:12])  # fmt: skip
    return 0
