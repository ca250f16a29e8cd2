"""Run every shipped scenario to its end and write the table "The shipped scenarios, measured" of docs/scenarios.md.

The table's figures come from the runs' metrics.json summaries (seed 0, full length, the FMUs built from the current
models). Rerun it whenever the models, the FMU runtime or a controller change the sessions:

    python scripts/scenario_table.py --workers 2 --write-docs
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "scenarios.md"
START, END = "<!-- SCENARIO-TABLE:START -->", "<!-- SCENARIO-TABLE:END -->"
#: the table's rows, in the order the docs discuss them
SCENARIOS = (
    "default", "manual_baseline", "exercise", "night", "exacerbation", "high_altitude", "compressor_wear",
    "stuck_valve", "o2_sensor_drift", "blocked_cannula", "high_ambient_temperature", "rated_flow",
)  # fmt: skip
HEADER = (
    "| scenario | length | in target after warm-up / session | below 85 % (session) | purity steady / min | mean flow "
    "| energy, mean power | duty | head max | alarms (starts) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def run_summary(name: str) -> tuple[str, float, dict[str, Any]]:
    """Run scenario `name` into a scratch folder; its length (s) and metrics.json summary."""
    from orchestrator import run

    with tempfile.TemporaryDirectory() as out:
        result = run(name, out=Path(out) / name, plots=False)
        if not result.ok:
            raise RuntimeError(f"scenario {name}: {result.status}: {result.error}")
        return (
            name,
            float(result.metrics["stop_time_s"]) - float(result.metrics["start_time_s"]),
            result.metrics["summary"],
        )


def row(name: str, length_s: float, s: dict[str, Any]) -> str:
    """One markdown row of the table from a summary."""
    has_spo2 = "time_in_target_pct" in s
    target = f"{s['time_in_target_pct']:.1f} / {s['time_in_target_pct_session']:.1f} %" if has_spo2 else "-"
    below = f"{s['time_below_85_pct_session']:.1f} %" if has_spo2 else "-"
    cells = [
        name,
        f"{length_s:.0f} s",
        target,
        below,
        f"{s['purity_steady_pct']:.1f} / {s['purity_min_pct']:.1f} %",
        f"{s['flow_mean_lpm']:.2f} L/min",
        f"{s['energy_wh']:.1f} Wh, {s['power_mean_w']:.0f} W",
        f"{s['duty_mean_pct']:.0f} %",
        f"{s['t_head_max_degc']:.1f} degC",
        s["alarms"],
    ]
    return "| " + " | ".join(cells) + " |"


def write_docs(table: str) -> None:
    """Replace the table between the markers of docs/scenarios.md."""
    text = DOCS.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{START}\n{table}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS), help="names (default: the table's rows)")
    parser.add_argument("--workers", type=int, default=2, help="processes running scenarios at once (2)")
    parser.add_argument("--write-docs", action="store_true", help="replace the table in docs/scenarios.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = {name: (length, s) for name, length, s in pool.map(run_summary, args.scenarios)}
    table = "\n".join([HEADER, *(row(name, *results[name]) for name in args.scenarios)])
    print(table)
    if args.write_docs:
        write_docs(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
