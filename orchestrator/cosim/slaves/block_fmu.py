"""A Python block (controller, watchdog, sensor model) as an FMI 2.0 Co-Simulation FMU, so other tools can run the
closed loop: the FMU runs the very same PythonBlock class at the same sample instants (block_fmu_runtime.py).

Why pythonfmu rather than C code from the built-in exporter: the blocks are Python (the fuzzy titrator, the PSA
sequencer, the watchdog's latches and alarm table); translating them to C would be a second definition of each
controller that could drift from the first. pythonfmu (PyPI, the ``interop`` extra) packages a Python class as an FMU
whose generic binary embeds the Python interpreter. The price: the FMU runs only where a Python 3 with pythonfmu and
the block's package (``controllers``, i.e. this project installed) can be loaded - fmpy in this environment does;
a tool without that environment (OMSimulator on another machine) cannot run these FMUs.

``build_block_fmu("controllers.pid:PressurePID", "pid", 0.1, {...}, out)`` writes ``out``; its resources hold the
runtime module, the generated model script and ``block.json`` (class reference, name, sample time, parameters).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.errors import SystemDefinitionError

log = logging.getLogger(__name__)

_RUNTIME = Path(__file__).with_name("block_fmu_runtime.py")
_REFERENCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")


def pythonfmu_missing() -> str | None:
    """Why block FMUs cannot be built here (pythonfmu not installed), or None."""
    try:
        import pythonfmu  # noqa: F401
    except ImportError:
        return "pythonfmu is not installed (pip install 'o2twin[interop]')"
    return None


def model_name(slave: str) -> str:
    """The FMU's model name (and the model script's module) for a slave: O2TwinBlock_<slave>."""
    return f"O2TwinBlock_{slave}"


def build_block_fmu(
    block: str, slave: str, sample_time: float, parameters: Mapping[str, Any], out: str | Path, description: str = ""
) -> Path:
    """Write the FMU of Python block class ``block`` ("module:Class") as slave ``slave`` with its sample time (s) and
    parameter values (and input start values) to ``out``; SystemDefinitionError when it cannot be built."""
    why = pythonfmu_missing()
    if why:
        raise SystemDefinitionError(f"slave {slave}: cannot export the Python block as an FMU: {why}")
    if not _REFERENCE.match(block):
        raise SystemDefinitionError(f"slave {slave}: block reference {block!r} is not 'module:Class'")
    from pythonfmu import FmuBuilder

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    name = model_name(slave)
    config = {
        "block": block,
        "name": slave,
        "sample_time": float(sample_time),
        "parameters": {k: _plain(v) for k, v in parameters.items()},
        "description": description or f"o2twin Python block {block} (slave {slave}, sampled every {sample_time:g} s)",
    }
    with tempfile.TemporaryDirectory(prefix="o2twin-block-fmu-") as tmp:
        folder = Path(tmp)
        shutil.copy2(_RUNTIME, folder / "o2twin_block_fmu_runtime.py")
        (folder / "block.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
        script = folder / f"{name}.py"
        script.write_text(
            f'"""The FMU of o2twin slave {slave}: block {block}."""\n\n'
            "from o2twin_block_fmu_runtime import BlockFmu\n\n\n"
            f"class {name}(BlockFmu):\n    pass\n",
            encoding="utf-8",
        )
        try:
            built = FmuBuilder.build_FMU(
                script,
                dest=out,
                project_files=[folder / "o2twin_block_fmu_runtime.py", folder / "block.json"],
                canGetAndSetFMUstate=False,
            )
        except Exception as exc:  # the block's import or construction failed inside pythonfmu
            raise SystemDefinitionError(f"slave {slave}: cannot export block {block} as an FMU: {exc}") from exc
    log.info("built %s (block %s, sample time %g s)", built, block, sample_time)
    return Path(built)


def _plain(value: Any) -> Any:
    """A parameter value as JSON holds it (numbers, booleans, text)."""
    if isinstance(value, bool | int | float | str):
        return value
    return float(value)
