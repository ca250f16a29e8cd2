"""The trained Q-network as the ``.npz`` controllers/dqn.py runs with numpy, and the file's hash for provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.rl.env import N_ACTIONS, N_FEATURES

#: The supervisor's observation names in order (controllers/dqn.py FEATURES; stored in the .npz and checked there).
FEATURES = (
    "purity_mean",
    "purity_min",
    "purity_trend",
    "p_feed_mean",
    "flow_mean",
    "flow_setpoint",
    "spo2_error",
    "spo2_valid",
    "t_head",
    "duty_mean",
    "alarm",
    "p_offset",
    "cycle_scale",
)


def q_network_arrays(model: Any) -> dict[str, np.ndarray]:
    """The weights of a Stable-Baselines3 DQN's online Q-network (Linear layers, ReLU between) as W_i, b_i."""
    import torch

    layers = [m for m in model.q_net.q_net if isinstance(m, torch.nn.Linear)]
    others = [m for m in model.q_net.q_net if not isinstance(m, torch.nn.Linear | torch.nn.ReLU)]
    if others or not layers:
        raise ValueError(f"only Linear layers with ReLU between them can be exported, got {model.q_net.q_net}")
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(layers):
        arrays[f"W{i}"] = layer.weight.detach().cpu().numpy().astype(np.float64).T
        arrays[f"b{i}"] = layer.bias.detach().cpu().numpy().astype(np.float64)
    if arrays["W0"].shape[0] != N_FEATURES or arrays[f"W{len(layers) - 1}"].shape[1] != N_ACTIONS:
        raise ValueError("the network's input/output sizes do not match the supervisor's observation and actions")
    return arrays


def write_policy(model: Any, path: Path) -> str:
    """Write the model's Q-network to ``path`` (.npz) and return its SHA-256."""
    arrays = q_network_arrays(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        meta = {"features": np.array(FEATURES), "n_obs": np.array(N_FEATURES), "n_actions": np.array(N_ACTIONS)}
        np.savez(f, **arrays, **meta)  # type: ignore[arg-type]  # numpy's stub types the first keyword as bool
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def weights_sha256(path: Path) -> str:
    """A hash of the network's numbers alone (the .npz's zip headers carry a time stamp, its file hash does not
    reproduce across trainings; this one does for the same seed and timesteps)."""
    digest = hashlib.sha256()
    with np.load(path, allow_pickle=False) as data:
        for name in sorted(k for k in data.files if k[0] in "Wb"):
            array = np.ascontiguousarray(data[name], dtype=np.float64)
            digest.update(name.encode() + str(array.shape).encode() + array.tobytes())
    return digest.hexdigest()
