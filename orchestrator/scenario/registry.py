"""The block registry: the only way a scenario's ``block = ...`` and ``[metrics] summary = ...`` reach Python code.

A scenario (TOML or SSP) is data from anyone; naming a module in it must never import that module. A reference is
resolved only against code the user installed or allowed explicitly:

- entry points: group ``o2twin.blocks`` (co-simulation blocks) and ``o2twin.summaries`` (metrics functions). The
  project declares its controllers there in pyproject.toml; any installed package can add its own. A reference is
  the entry point's name (``PressurePID``) or its value (``controllers.pid:PressurePID``);
- ``--allow-module MODULE`` (``allow_modules=`` in the Python API): ``MODULE:Name`` references may name anything in
  that module. It is imported when first needed, from the Python path or, failing that, from ``MODULE.py`` beside
  the scenario file;
- ``register()``: code that builds its own blocks (tests, the hardware-in-the-loop adapter) adds them by name.

Anything else is refused, before any import, with a message that says how to register the block.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from orchestrator.cosim.slaves.base import Slave
from orchestrator.errors import SystemDefinitionError

log = logging.getLogger(__name__)

BLOCK_GROUP = "o2twin.blocks"
SUMMARY_GROUP = "o2twin.summaries"
#: A reference as written in a scenario: an entry point name ("PressurePID") or "module:Name".
REFERENCE_RE = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?$")
_MODULE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

SummaryFunction = Callable[..., Any]


def _how_to_register(kind: str, reference: str, group: str) -> str:
    module = reference.split(":", 1)[0] if ":" in reference else "MODULE"
    return (
        f"{kind} '{reference}' is not registered: declare it as an entry point in group '{group}' of an installed "
        f'package (pyproject.toml: [project.entry-points."{group}"]), or trust its module explicitly with '
        f'`o2twin run --allow-module {module}` (Python API: allow_modules=["{module}"])'
    )


class BlockRegistry:
    """Resolves scenario references to block classes and summary functions (see the module docstring)."""

    def __init__(self, allow_modules: Iterable[str] = (), search_dirs: Iterable[str | Path] = ()) -> None:
        self.allowed_modules: list[str] = []
        for module in allow_modules:
            if not _MODULE_RE.match(module):
                raise SystemDefinitionError(f"--allow-module {module!r}: not a Python module name (e.g. my_blocks)")
            self.allowed_modules.append(module)
        self.search_dirs = [Path(d) for d in search_dirs]
        self._registered: dict[str, dict[str, Any]] = {BLOCK_GROUP: {}, SUMMARY_GROUP: {}}

    # ------------------------------------------------------------------ registration
    def register(self, reference: str, obj: Any, group: str = BLOCK_GROUP) -> None:
        """Make ``obj`` (a block class or a summary function) available under ``reference`` for this registry."""
        if group not in self._registered:
            raise ValueError(f"unknown registry group {group!r}")
        self._registered[group][reference] = obj

    def with_search_dir(self, folder: str | Path) -> BlockRegistry:
        """A copy that also finds allowed modules beside a scenario file in ``folder``."""
        copy = BlockRegistry(self.allowed_modules, [*self.search_dirs, Path(folder)])
        copy._registered = {g: dict(r) for g, r in self._registered.items()}
        return copy

    # ------------------------------------------------------------------ lookup
    def block(self, reference: str, where: str = "") -> type[Slave]:
        """The concrete Slave class a ``block = ...`` reference names; SystemDefinitionError otherwise."""
        prefix = f"{where}: " if where else ""
        obj = self._resolve(reference, BLOCK_GROUP, "block", prefix)
        if not (isinstance(obj, type) and issubclass(obj, Slave)):
            raise SystemDefinitionError(
                f"{prefix}'block' = '{reference}' is not a co-simulation block class (subclass PythonBlock)"
            )
        from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave

        if issubclass(obj, FmuCoSimSlave | FmuModelExchangeSlave):
            raise SystemDefinitionError(
                f"{prefix}'block' = '{reference}' is an FMU slave class; name the FMU with fmu = \"path.fmu\" "
                "(or a Modelica class) instead of block"
            )
        if inspect.isabstract(obj):
            missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ()))) or "?"
            raise SystemDefinitionError(
                f"{prefix}'block' = '{reference}' is an abstract class (it does not implement {missing}); "
                "name a concrete block"
            )
        return obj

    def summary(self, reference: str, where: str = "") -> SummaryFunction:
        """The metrics function a ``[metrics] summary = ...`` reference names; SystemDefinitionError otherwise."""
        prefix = f"{where}: " if where else ""
        obj = self._resolve(reference, SUMMARY_GROUP, "summary", prefix)
        if not inspect.isfunction(obj):
            raise SystemDefinitionError(
                f"{prefix}'summary' = '{reference}' is not a Python function "
                "(a summary is def f(signals, spec) -> dict)"
            )
        return obj

    def names(self, group: str = BLOCK_GROUP) -> list[str]:
        """Every name a scenario may use in this group (entry point names and registered references)."""
        return sorted({ep.name for ep in _entry_points(group)} | set(self._registered[group]))

    def _resolve(self, reference: str, group: str, kind: str, prefix: str) -> Any:
        if not isinstance(reference, str) or not REFERENCE_RE.match(reference):
            raise SystemDefinitionError(
                f"{prefix}'{kind}' = {reference!r} must be a registered name or 'module:Name', e.g. "
                "'controllers.pid:PressurePID'"
            )
        if reference in self._registered[group]:
            return self._registered[group][reference]
        found = [ep for ep in _entry_points(group) if reference in (ep.name, ep.value)]
        if found:
            return _load_entry_point(found[0], prefix, kind, reference)
        module_name, _, attr = reference.partition(":")
        if attr and module_name in self.allowed_modules:
            module = self._import_allowed(module_name, prefix)
            obj = getattr(module, attr, None)
            if obj is None:
                raise SystemDefinitionError(f"{prefix}'{kind}' = '{reference}': module '{module_name}' has no '{attr}'")
            return obj
        message = prefix + _how_to_register(kind, reference, group)
        if not _entry_points(group):
            message += (
                f". This Python environment has no entry points in '{group}' at all: install the project "
                "(pip install -e ., or make .venv/.installed) so its controllers are registered"
            )
        raise SystemDefinitionError(message)

    def _import_allowed(self, module_name: str, prefix: str) -> Any:
        """Import a module the user allowed: from the Python path, else MODULE.py beside the scenario."""
        if module_name in sys.modules:
            return sys.modules[module_name]
        if importlib.util.find_spec(module_name.split(".")[0]) is None:
            for folder in self.search_dirs:
                candidate = folder / (module_name.replace(".", "/") + ".py")
                if "." not in module_name and candidate.is_file():
                    log.info("--allow-module %s: importing %s", module_name, candidate)
                    spec = importlib.util.spec_from_file_location(module_name, candidate)
                    assert spec is not None and spec.loader is not None
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[module_name] = module
                    try:
                        spec.loader.exec_module(module)
                    except BaseException:
                        del sys.modules[module_name]
                        raise
                    return module
            looked = ", ".join(str(d) for d in self.search_dirs) or "no scenario folder"
            raise SystemDefinitionError(
                f"{prefix}--allow-module {module_name}: no such module on the Python path or beside the scenario "
                f"({looked}); install it or put {module_name}.py next to the scenario file"
            )
        return importlib.import_module(module_name)


#: group -> (the Python path's folders with their modification times when read, the group's entry points)
_ENTRY_POINTS: dict[str, tuple[tuple[tuple[str, int], ...], list[EntryPoint]]] = {}


def _entry_points(group: str) -> list[EntryPoint]:
    """The installed entry points of ``group``, read once while the Python path and its folders stay the same:
    reading them scans every installed distribution, a large share of a short run that a sweep worker repeats
    for every case. Installing or removing a package changes its folder's modification time, so it is seen."""
    stamp = tuple((folder, _mtime_ns(folder)) for folder in sys.path)
    read = _ENTRY_POINTS.get(group)
    if read is None or read[0] != stamp:
        read = _ENTRY_POINTS[group] = (stamp, list(entry_points(group=group)))
    return read[1]


def _mtime_ns(folder: str) -> int:
    try:
        return os.stat(folder or ".").st_mtime_ns
    except OSError:
        return -1


def _load_entry_point(ep: EntryPoint, prefix: str, kind: str, reference: str) -> Any:
    try:
        return ep.load()
    except (ImportError, AttributeError) as err:
        raise SystemDefinitionError(
            f"{prefix}'{kind}' = '{reference}': the registered entry point {ep.name} = {ep.value} cannot be loaded "
            f"({err}); reinstall the package that declares it"
        ) from None


def check_safety(spec: Any, registry: BlockRegistry) -> None:
    """[safety] watchdog: the named slave's block class must check the scenario (``check_scenario(spec)``).

    The check itself belongs to the registered watchdog block (e.g. the project's SafetyWatchdog rejects actuators
    driven around it); the orchestrator only finds the class through the registry and calls it.
    """
    if spec.watchdog is None:
        return
    where = f"{spec.source or '<scenario>'}: [safety]"
    slave = spec.slaves.get(spec.watchdog)
    if slave is None:
        raise SystemDefinitionError(f"{where}: watchdog = '{spec.watchdog}' names no slave in [slaves]")
    check = None
    if slave.block is not None:
        cls = registry.block(slave.block, f"{spec.source or '<scenario>'}: [slaves.{slave.name}]")
        check = getattr(cls, "check_scenario", None)
    if not callable(check):
        raise SystemDefinitionError(
            f"{where}: watchdog = '{spec.watchdog}' is {slave.block or slave.fmu!r}, which is no safety watchdog "
            "(its block class defines no check_scenario); use block = 'controllers.watchdog:SafetyWatchdog'"
        )
    check(spec)
