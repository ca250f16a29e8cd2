#!/usr/bin/env python3
"""Benchmark of the DQN supervisor's cost per decision, with numpy only (the Raspberry Pi's run-time path).

1. ``QNetwork.act`` on one observation: the Q-network forward pass and argmax (numpy), best of several repeats.
2. ``DQNSupervisor`` at a decision instant (set_inputs + step through the slave interface, as the master calls it):
   the period's observation, the network and the action; and at an ordinary sample (statistics only).
3. The same network in Stable-Baselines3/torch (``model.predict``, one observation), when the rl extra is installed:
   the peer the numpy path replaces at run time.

The target is < 1 ms per decision; figures are ratios against that limit measured in the same run. Uses the shipped
policy (policies/dqn/policy.npz) if present, otherwise a random network of the same shape. Checks that no torch
module was imported by the numpy path. Prints a Markdown table; --write-docs puts it into docs/rl.md between the
BENCH markers.

    scripts/bench_dqn.py [--repeats N] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time

import numpy as np

from controllers.dqn import ACTIONS, FEATURES, DQNSupervisor, QNetwork
from orchestrator.paths import POLICIES_DIR, PROJECT_ROOT
from orchestrator.units import P_ATM_PA

TARGET_S = 1e-3
DOC = PROJECT_ROOT / "docs" / "rl.md"
BEGIN, END = "<!-- BENCH:dqn:begin -->", "<!-- BENCH:dqn:end -->"
SHIPPED = "dqn/policy.npz"


def best_per_call(fn, n: int, repeats: int) -> float:
    """Seconds per call: the best of ``repeats`` loops of ``n`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def median_per_call(fn, n: int) -> float:
    """Seconds per call: the median of ``n`` single timed calls (robust to other processes on a loaded machine)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def network() -> tuple[QNetwork, str]:
    path = POLICIES_DIR / SHIPPED
    if path.is_file():
        return QNetwork.load(path), f"shipped policy ({SHIPPED})"
    rng = np.random.default_rng(0)
    shapes = [(len(FEATURES), 64), (64, 64), (64, len(ACTIONS))]
    return QNetwork([rng.normal(size=s) for s in shapes], [rng.normal(size=s[1]) for s in shapes]), "random 64x64"


def block_costs(net: QNetwork, repeats: int) -> tuple[float, float]:
    """(seconds per decision instant, seconds per ordinary sample) of the block through the slave interface."""
    params = {"period_s": 7.5, "start_s": 0.0}
    if (POLICIES_DIR / SHIPPED).is_file():
        params["policy"] = SHIPPED
    block = DQNSupervisor("supervisor", 0.25)
    block.setup(0.0, params)
    block._network = net  # the same network as measured alone (the shipped one, or the random stand-in)
    u = {"p_schedule": P_ATM_PA + 0.8e5, "p_feed": P_ATM_PA + 1.0e5, "sensor_O2": 0.93, "sensor_Q": 3e-5,
         "Q_set": 3e-5, "spo2": 0.9, "signal_quality": 1.0, "T_head": 313.0, "duty": 0.6, "alarm_code": 0.0,
         "action": 0.0}  # fmt: skip
    state = {"k": 0}

    def sample() -> None:
        k = state["k"]
        u["sensor_O2"] = 0.93 + 0.001 * (k % 7)
        block.set_inputs(u)
        block.step(k * 0.25, 0.25)
        state["k"] = k + 1

    per_sample = median_per_call(sample, 30 * 50)  # 50 periods: the median is an ordinary sample
    decisions = []
    for _ in range(max(repeats, 50)):
        while state["k"] % 30 != 0:  # start_s = 0: every 30th sample (7.5 s / 0.25 s) is a decision instant
            sample()
        t0 = time.perf_counter()
        sample()
        decisions.append(time.perf_counter() - t0)
    return float(np.median(decisions)), per_sample


def torch_cost(net_source: str, repeats: int) -> float | None:
    """model.predict for one observation with the SB3 model beside the shipped policy (None without the extra)."""
    model_path = POLICIES_DIR / "dqn" / "model.zip"
    if not model_path.is_file():
        return None
    try:
        from stable_baselines3 import DQN
    except ImportError:
        return None
    model = DQN.load(model_path, device="cpu")
    obs = np.zeros(len(FEATURES), dtype=np.float32)
    return best_per_call(lambda: model.predict(obs, deterministic=True), 200, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/rl.md")
    args = parser.parse_args(argv)
    net, source = network()
    obs = np.linspace(-1, 1, len(FEATURES))
    act = median_per_call(lambda: net.act(obs), 2000)
    decision, sample = block_costs(net, args.repeats)
    torch_loaded = any(name == "torch" or name.startswith("torch.") for name in sys.modules)
    peer = torch_cost(source, args.repeats)
    load = os.getloadavg()[0]
    rows = [
        ("QNetwork.act (forward pass + argmax, numpy)", act),
        ("DQNSupervisor at a decision instant (observation + network + guard + action)", decision),
        ("DQNSupervisor at an ordinary sample (period statistics)", sample),
    ]
    if peer is not None:
        rows.append(("the same network in SB3/torch, model.predict (peer, training side)", peer))
    lines = [
        f"Measured {dt.date.today()} on {platform.machine()} (CPython {platform.python_version()}), {source}, "
        f"load average {load:.1f}; the network alone and the decision instant: median of single calls (2000 and 50 or more); torch: best of {args.repeats} loops of 200. The numpy path "
        f"imported torch: {'yes' if torch_loaded else 'no'}.",
        "",
        "| what | per call | share of the 1 ms target |",
        "| --- | --- | --- |",
        *(f"| {name} | {t * 1e6:.1f} us | {t / TARGET_S:.3f} |" for name, t in rows),
    ]
    if peer is not None:
        lines += ["", f"numpy / torch per decision: {act / peer:.3f} (numpy is {peer / act:.0f}x faster)."]
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        doc = DOC.read_text()
        if BEGIN not in doc or END not in doc:
            print(f"{DOC} lacks the markers {BEGIN} / {END}", file=sys.stderr)
            return 1
        head, rest = doc.split(BEGIN, 1)
        DOC.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])
    return 0 if decision < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
