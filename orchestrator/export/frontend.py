"""Modelica front end: parse a model folder with pymoca and flatten one class to a CasADi DAE.

pymoca does the parsing and flattening; this module adds what the exporter needs on top of it:
- one clear ModelError naming file, line and construct for syntax errors, unknown models and the Modelica
  constructs the built-in exporter does not support (when, algorithm sections in models, discrete variables,
  event operators such as pre/edge/sample/reinit);
- functions declared inside packages: CasADi rejects dotted function names ('Pkg.sq'), so the generated
  CasADi functions get sanitised names (the Modelica names stay as they are everywhere else);
- package constants (O2Twin.Media.R, or relative names such as w[i] inside a for-loop), which pymoca 0.12 leaves
  unresolved, are looked up in the library and evaluated;
- smooth(), noEvent() and homotopy() are evaluated as their (actual) argument: the FMU has no event handling, so
  they are transparent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import casadi as ca

from orchestrator.errors import ModelError
from orchestrator.export.dependencies import model_source_files
from orchestrator.export.variants import ModelVariant

log = logging.getLogger(__name__)

#: A pymoca AST node or tree (pymoca has no type annotations).
PymocaNode = Any

#: Event and discrete constructs the built-in exporter rejects, with the words used in the error message.
UNSUPPORTED_OPERATORS = {
    "pre": "pre() (discrete-time operator)",
    "edge": "edge() (discrete-time operator)",
    "change": "change() (discrete-time operator)",
    "sample": "sample() (sampled-data operator)",
    "initial": "initial() (event operator)",
    "terminal": "terminal() (event operator)",
    "reinit": "reinit() (state reset)",
    "delay": "delay() (time delay)",
    "spatialDistribution": "spatialDistribution()",
    "cardinality": "cardinality()",
    "terminate": "terminate()",
    "assert": "assert()",
    "hold": "hold() (clocked operator)",
    "Clock": "Clock() (synchronous construct)",
    "interval": "interval() (clocked operator)",
}
#: Operators that are transparent in the generated FMU (no events): index of the argument that is kept.
TRANSPARENT_OPERATORS = {"smooth": 1, "noEvent": 0, "homotopy": 0}

#: The largest model the built-in exporter takes, in scalar variables (states and algebraic variables; parameters
#: and constants not counted). Export time grows linearly (about 10 ms per variable on a 2020s x86-64 core) and the
#: FMU runtime's sparse LU handles up to 20000 states, so larger models are refused before any work is done.
MAX_SCALAR_VARIABLES = 20000

#: pymoca options: scalarised variables (FMI variables are scalars), SX-expandable functions.
PYMOCA_OPTIONS = {
    "expand_vectors": True,
    "expand_mx": True,
    "check_balanced": False,
    "unroll_loops": True,
    "inline_functions": True,
}


@dataclass
class FlatModel:
    """A flattened Modelica class: pymoca's CasADi model plus what FMI metadata needs (units, descriptions)."""

    name: str
    description: str
    #: pymoca.backends.casadi.model.Model after simplify() (scalar variables, SX-expandable).
    dae: Any
    #: Flat variable name (without array indices) -> (unit or None, description).
    metadata: dict[str, tuple[str | None, str]]
    source_files: list[Path]
    #: The file that defines the class (for error messages).
    class_file: Path | None
    stop_time: float = 1.0
    tolerance: float = 1e-6
    experiment: dict[str, float] = field(default_factory=dict)
    #: FMI modelIdentifier of an export variant (None: derived from the name)
    identifier: str | None = None


def modelica_files(models_dir: Path) -> list[Path]:
    """Every .mo file under a model folder in load order (the exporter parses the whole folder as one library)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ModelError(
            f"model folder {models_dir} does not exist; pass --models-dir with the folder of the .mo files"
        )
    # Parents before children, and each folder's package.mo before its other files: pymoca's Tree.extend merges
    # only nested classes, so the file that declares a package's own contents (constants) must come first.
    files = sorted(
        (p for p in models_dir.rglob("*.mo") if p.is_file()),
        key=lambda p: (len(p.relative_to(models_dir).parts), p.name != "package.mo", str(p)),
    )
    if not files:
        raise ModelError(f"no Modelica (.mo) files in {models_dir}; pass --models-dir with the folder of the .mo files")
    return files


def _syntax_error(path: Path, err: Exception) -> ModelError:
    info = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], tuple) else ()
    line = info[1] if len(info) > 1 else "?"
    col = info[2] if len(info) > 2 else "?"
    text = info[3].strip() if len(info) > 3 and info[3] else ""
    msg = err.args[0] if err.args else str(err)
    where = f"\n    {text}" if text else ""
    return ModelError(f"{path}:{line}:{col}: Modelica syntax error: {msg}{where}\n  fix the source at that line")


def parse_library(models_dir: Path) -> tuple[PymocaNode, list[Path]]:
    """Parse every .mo file under models_dir into one pymoca AST tree; returns (tree, files)."""
    from pymoca import parser  # antlr import is slow: only when a model is really compiled

    files = modelica_files(models_dir)
    tree = None
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            parsed = parser.parse(text)
        except parser.ModelicaSyntaxError as err:
            raise _syntax_error(path, err) from None
        except Exception as err:  # pymoca raises bare exceptions for syntax it does not support
            raise ModelError(f"{path}: pymoca cannot parse this file: {err}; simplify the construct it names") from None
        if tree is None:
            tree = parsed
        else:
            tree.extend(parsed)
    return tree, files


def _first_line_of(text: str, pattern: re.Pattern) -> int:
    """1-based number of the first code line matching pattern, 0 if none."""
    for number, line in enumerate(_code_lines(text), start=1):
        if pattern.search(line):
            return number
    return 0


def _code_lines(text: str) -> list[str]:
    """The lines of a Modelica source with strings and comments blanked (so keywords in them do not match)."""
    text = re.sub(r'"(\\.|[^"\\])*"', lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    return [re.sub(r"//.*", "", line) for line in text.splitlines()]


def locate(files: list[Path], pattern: str, prefer: Path | None = None) -> tuple[Path | None, int]:
    """First (file, line) whose code (not comments/strings) matches a regex; the preferred file is searched first."""
    regex = re.compile(pattern)
    ordered = ([prefer] if prefer else []) + [f for f in files if f != prefer]
    for path in ordered:
        line = _first_line_of(path.read_text(encoding="utf-8"), regex)
        if line:
            return path, line
    return None, 0


def _where(files: list[Path], pattern: str, prefer: Path | None) -> str:
    path, line = locate(files, pattern, prefer)
    return f"{path}:{line}" if path else (str(prefer) if prefer else "model source")


def find_class(tree: PymocaNode, name: str) -> PymocaNode | None:
    """The pymoca class for a dotted Modelica name, or None."""
    node = tree
    for part in name.split("."):
        classes = getattr(node, "classes", {})
        if part not in classes:
            return None
        node = classes[part]
    return node


def list_models(tree: PymocaNode, packages: tuple[str, ...] = ()) -> list[str]:
    """Full names of the non-partial models/blocks in the tree (only inside the given packages, if any)."""
    found: list[str] = []

    def walk(node: PymocaNode, prefix: str) -> None:
        for cname, cls in getattr(node, "classes", {}).items():
            full = f"{prefix}{cname}"
            wanted = not packages or any(full.startswith(p + ".") for p in packages)
            if cls.type in ("model", "block", "class") and not cls.partial and wanted:
                found.append(full)
            if cls.type in ("package", "model", "block", "class"):
                walk(cls, full + ".")

    walk(tree, "")
    return sorted(found)


def _class_file(files: list[Path], name: str) -> Path | None:
    last = name.split(".")[-1]
    path, _ = locate(files, rf"\b(model|block|class|package)\s+{re.escape(last)}\b")
    return path


def _unknown_model(models_dir: Path, name: str, tree: PymocaNode) -> ModelError:
    known = list_models(tree)
    hint = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
    return ModelError(
        f"unknown model '{name}' in {models_dir}: no such class; give the full Modelica name (package.Model)."
        f" Models found: {hint or 'none'}"
    )


def _walk_nodes(node: PymocaNode, seen: set[int] | None = None) -> Iterator[PymocaNode]:
    """Every pymoca AST node reachable from node (lists and attributes), each once."""
    from pymoca import ast

    seen = set() if seen is None else seen
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
            continue
        if not isinstance(item, ast.Node) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        for key, value in vars(item).items():
            if key in ("parent", "_connector_type", "classes"):
                continue
            if isinstance(value, ast.Node | list | tuple):
                stack.append(value)
            elif isinstance(value, dict):
                stack.extend(v for v in value.values() if isinstance(v, ast.Node))


def check_supported(flat_class: PymocaNode, files: list[Path], class_file: Path | None, name: str) -> None:
    """Raise a ModelError naming file, line and construct for anything the built-in exporter cannot export."""
    from pymoca import ast

    def fail(construct: str, pattern: str, fix: str) -> None:
        raise ModelError(
            f"{_where(files, pattern, class_file)}: {construct} in model {name} is not supported by the built-in"
            f" exporter (continuous-time models only); {fix}"
        )

    if flat_class.statements or flat_class.initial_statements:
        fail(
            "an algorithm section",
            r"\balgorithm\b",
            "write it as equations (algorithms are supported inside functions only)",
        )
    for symbol in flat_class.symbols.values():
        if "discrete" in symbol.prefixes:
            fail(
                f"the discrete variable '{symbol.name}'",
                rf"\bdiscrete\b.*\b{re.escape(symbol.name.split('.')[-1])}\b",
                "make it continuous or a parameter",
            )
        type_name = str(symbol.type)
        if type_name in ("Integer", "Boolean", "String") and not (
            "parameter" in symbol.prefixes or "constant" in symbol.prefixes
        ):
            fail(
                f"the {type_name} variable '{symbol.name}'",
                rf"\b{type_name}\b[^;]*\b{re.escape(symbol.name.split('.')[-1])}\b",
                "only parameters and constants may be Integer/Boolean/String; use Real",
            )
    equation_nodes = list(flat_class.equations) + list(flat_class.initial_equations)
    for node in _walk_nodes(equation_nodes):
        if isinstance(node, ast.WhenEquation | ast.WhenStatement):
            fail("a when-equation", r"\bwhen\b", "use continuous equations (if-expressions, smooth)")
        if isinstance(node, ast.Expression):
            op = node.operator.name if isinstance(node.operator, ast.ComponentRef) else str(node.operator)
            if op in UNSUPPORTED_OPERATORS:
                fail(UNSUPPORTED_OPERATORS[op], rf"\b{re.escape(op)}\s*\(", "remove the event/discrete construct")


def _sanitised_function_name(name: str, taken: set[str]) -> str:
    """A CasADi-valid function name for a Modelica function name ('Pkg.sq' -> 'Pkg_sq')."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "f"
    if not base[0].isalpha():
        base = "f_" + base
    candidate, n = base, 1
    while candidate in taken or candidate in ("null", "jac", "hess"):
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def _generator_class():
    """pymoca's CasADi generator with the exporter's two fixes (package functions, transparent operators)."""
    from pymoca import ast
    from pymoca.backends.casadi.generator import Generator

    class ExporterGenerator(Generator):
        _taken_names: set[str]

        def get_function(self, function_name):
            if function_name not in self.functions and function_name in self.root.classes:
                cls = self.root.classes[function_name]
                if not hasattr(self, "_taken_names"):
                    self._taken_names = set()
                # pymoca names the CasADi function after the class; CasADi rejects dots.
                cls.name = _sanitised_function_name(cls.name, self._taken_names)
            return super().get_function(function_name)

        def get_component(self, tree):
            if (
                tree.name not in self.current_class.symbols
                and tree.name != "time"
                and not any(f.name == tree.name for f in self.for_loops)
            ):
                return self._package_constant(tree)
            return super().get_component(tree)

        def _package_constant(self, tree):
            """A constant declared in a package (e.g. O2Twin.Media.R), which pymoca leaves unresolved."""
            names = tuple(part for name in tree.to_tuple() for part in name.split("."))
            # Modelica lookup: the reference as written, then relative to each enclosing package of the model
            scopes = [self._model_path[:k] for k in range(len(self._model_path) - 1, -1, -1)]
            value = None
            for scope in ([()] if len(names) > 1 else []) + scopes:
                value = constant_value(self._library, (*scope, *names), relative=False)
                if value is not None:
                    break
            if value is None:
                raise ModelError(
                    f"'{'.'.join(names)}' is not a constant with a numeric value in the model folder; declare it as"
                    " 'constant Real ... = <number>' in its package"
                )
            last = tree
            while last.child:
                last = last.child[0]
            indices = [i for group in last.indices for i in group if i is not None]
            if not indices:
                return ca.MX(ca.DM(value))
            if len(indices) != 1 or not isinstance(value, list):
                raise ModelError(f"'{'.'.join(names)}': only one-dimensional package constant arrays are supported")
            index = indices[0]
            if isinstance(index, ast.Primary):
                return ca.MX(float(value[int(index.value) - 1]))
            # an index that depends on a for-loop variable: a lookup that constant-folds once the loop is unrolled
            index_mx = self.get_mx(index)
            lookup = ca.MX(0)
            for k, item in enumerate(value, start=1):
                lookup = lookup + float(item) * (index_mx == k)
            return lookup

        def exitExpression(self, tree):
            op = tree.operator.name if isinstance(tree.operator, ast.ComponentRef) else tree.operator
            keep = TRANSPARENT_OPERATORS.get(op)
            if keep is not None and len(tree.operands) > keep:
                self.src[tree] = self.get_mx(tree.operands[keep])
                return
            super().exitExpression(tree)

    return ExporterGenerator


def _find_symbol(
    library: PymocaNode, names: tuple[str, ...], relative: bool = True
) -> tuple[PymocaNode, PymocaNode] | None:
    """(class, symbol) for a dotted reference: from the root first, else any package whose path ends with it."""
    *path, last = names
    cls = find_class(library, ".".join(path)) if path else None
    if cls is not None and last in getattr(cls, "symbols", {}):
        return cls, cls.symbols[last]
    if not relative:
        return None
    matches = []

    def walk(node: PymocaNode, prefix: tuple[str, ...]) -> None:
        for cname, child in getattr(node, "classes", {}).items():
            full = (*prefix, cname)
            if full[-len(path) :] == tuple(path) and last in getattr(child, "symbols", {}):
                matches.append((child, child.symbols[last]))
            if child.type == "package":
                walk(child, full)

    if path:
        walk(library, ())
    return matches[0] if len(matches) == 1 else None


def constant_value(
    library: PymocaNode, names: tuple[str, ...], depth: int = 0, relative: bool = True
) -> float | list[float] | None:
    """Numeric value of a package constant (numbers, arrays, arithmetic on other constants of the same package).

    With relative=False the name must be a full path from the library root."""
    from pymoca import ast

    found = _find_symbol(library, names, relative)
    if found is None or depth > 20:
        return None
    scope, symbol = found
    if "constant" not in symbol.prefixes and "parameter" not in symbol.prefixes:
        return None

    def evaluate(node: PymocaNode) -> Any:
        if isinstance(node, ast.Primary):
            return (
                float(node.value) if isinstance(node.value, int | float) and not isinstance(node.value, bool) else None
            )
        if isinstance(node, ast.Array):
            items = [evaluate(v) for v in node.values]
            return None if any(i is None or isinstance(i, list) for i in items) else items
        if isinstance(node, ast.ComponentRef):
            ref = node.to_tuple()
            local = (*_class_path(scope), *ref) if len(ref) == 1 else ref
            return constant_value(library, local, depth + 1)
        if isinstance(node, ast.Expression):
            args = [evaluate(o) for o in node.operands]
            if any(a is None or isinstance(a, list) for a in args):
                return None
            op = node.operator if isinstance(node.operator, str) else getattr(node.operator, "name", None)
            if op == "-" and len(args) == 1:
                return -args[0]
            binary: dict[str, Callable[[float, float], float]] = {
                "+": float.__add__,
                "-": float.__sub__,
                "*": float.__mul__,
                "/": float.__truediv__,
                "^": pow,
            }
            if op in binary and len(args) == 2:
                return float(binary[op](args[0], args[1]))
        return None

    return evaluate(_declared_value(symbol))


def _declared_value(symbol: PymocaNode) -> PymocaNode:
    """The binding of a declaration (`= expr`): pymoca keeps it in the class modification until flattening."""
    value = symbol.value
    if getattr(value, "value", None) is not None or not hasattr(value, "value"):
        return value
    modification = symbol.class_modification
    for argument in getattr(modification, "arguments", []) or []:
        element: Any = getattr(argument, "value", None)
        component = getattr(element, "component", None)
        if getattr(component, "name", None) == "value" and element.modifications:
            return element.modifications[0]
    return value


def _class_path(cls: PymocaNode) -> tuple[str, ...]:
    parts = []
    node = cls
    while node is not None and getattr(node, "name", None) not in (None, "", "root", "Tree"):
        parts.append(node.name)
        node = getattr(node, "parent", None)
    return tuple(reversed(parts))


def _experiment(cls: PymocaNode) -> dict[str, float]:
    """StopTime/Tolerance/StartTime from an experiment annotation, if any."""
    out: dict[str, float] = {}
    annotation = getattr(cls, "annotation", None)
    if annotation is None:
        return out
    for node in _walk_nodes(annotation):
        name = getattr(node, "name", None)
        if name in ("StopTime", "Tolerance", "StartTime", "Interval"):
            for child in _walk_nodes(node):
                value = getattr(child, "value", None)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out[name] = float(value)
                    break
    return out


def _experiment_from_text(files: list[Path], class_file: Path | None, name: str) -> dict[str, float]:
    """Fallback: read experiment(...) of the class from its source text."""
    if class_file is None:
        return {}
    text = class_file.read_text(encoding="utf-8")
    last = re.escape(name.split(".")[-1])
    m = re.search(rf"\b(model|block|class)\s+{last}\b(.*?)\bend\s+{last}\s*;", text, flags=re.S)
    if not m:
        return {}
    exp = re.search(r"experiment\s*\(([^)]*)\)", m.group(2))
    if not exp:
        return {}
    out = {}
    for key, value in re.findall(r"(\w+)\s*=\s*([-+0-9.eE]+)", exp.group(1)):
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


def _load_class(models_dir: Path, name: str) -> tuple[PymocaNode, list[Path], PymocaNode, Path | None]:
    """(library tree, files, class, file declaring it) for an exportable (non-partial model or block) class."""
    tree, files = parse_library(models_dir)
    cls = find_class(tree, name)
    if cls is None:
        raise _unknown_model(models_dir, name, tree)
    if cls.type not in ("model", "block", "class"):
        raise ModelError(
            f"{_class_file(files, name) or models_dir}: {name} is a {cls.type}, not a model; export a model or block"
            f" (models in it: {', '.join(list_models(cls)[:10]) or 'none'})"
        )
    class_file = _class_file(files, name)
    if cls.partial:
        raise ModelError(f"{class_file}: model {name} is partial; export a model that extends it")
    return tree, files, cls, class_file


def _add_variant(tree: PymocaNode, variant: ModelVariant) -> str:
    """Add the class that binds the variant's parameter values to the tree; returns its name."""
    from pymoca import parser

    name, text = variant.wrapper_class()
    tree.extend(parser.parse(text))
    return name


def _not_a_parameter(name: str, variant: ModelVariant, cls: PymocaNode, class_file: Path | None) -> ModelError:
    parameters = sorted(n for n, s in cls.symbols.items() if "parameter" in s.prefixes)
    shown = ", ".join(parameters[:30]) + (" ..." if len(parameters) > 30 else "")
    return ModelError(
        f"{class_file}: {name} is not a parameter of {variant.model}, so it cannot be set at export;"
        f" its parameters: {shown or 'none'}"
    )


def _check_bound(flat_class: PymocaNode, variant: ModelVariant, cls: PymocaNode, class_file: Path | None) -> None:
    """Every value a variant binds must be a parameter's (a modifier on a variable is not a structural choice)."""
    for name, _ in variant.parameters:
        symbol = flat_class.symbols.get(name)
        if symbol is None or "parameter" not in symbol.prefixes:
            raise _not_a_parameter(name, variant, cls, class_file)


def _check_size(flat_class: PymocaNode, name: str, class_file: Path | None) -> None:
    """Refuse a model above MAX_SCALAR_VARIABLES before it is expanded (that is where the time would go)."""
    count = 0
    for symbol in flat_class.symbols.values():
        if "parameter" in symbol.prefixes or "constant" in symbol.prefixes:
            continue
        size = 1
        for dims in symbol.dimensions or []:
            for dim in dims:
                value = getattr(dim, "value", None)
                size *= value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
        count += size
    if count > MAX_SCALAR_VARIABLES:
        raise ModelError(
            f"{class_file}: model {name} has {count} scalar variables; the built-in exporter takes up to"
            f" {MAX_SCALAR_VARIABLES} (docs/exporter.md, 'Model size'): split it into smaller FMUs or use coarser"
            " arrays"
        )


def _generate(
    flat_tree: PymocaNode, target: str, library: PymocaNode, name: str, used: list[Path], class_file: Path | None
) -> Any:
    """pymoca's CasADi model of the flattened class `target` (model `name`), simplified; ModelError on failure."""
    from pymoca.backends.casadi.api import _merge_default_options
    from pymoca.backends.casadi.generator import GeneratorWalker

    options = _merge_default_options(dict(PYMOCA_OPTIONS))
    generator = _generator_class()(flat_tree, target, options)
    generator._library = library
    generator._model_path = tuple(name.split("."))
    try:
        GeneratorWalker().walk(generator, flat_tree)
        model = generator.model
        model.simplify(options)
        return model
    except Exception as err:
        message = str(err)
        m = re.search(r"Unknown function (\S+)", message)
        if m:
            fname = m.group(1)
            pattern = r"\b" + re.escape(fname.split(".")[-1]) + r"\s*\("
            raise ModelError(
                f"{_where(used, pattern, class_file)}: call of unknown or unsupported function"
                f" '{fname}' in model {name}; declare it as a Modelica function in the model folder"
            ) from None
        if isinstance(err, NotImplementedError):
            raise ModelError(f"{class_file}: model {name} uses a construct pymoca does not support: {err}") from None
        raise ModelError(f"{class_file}: cannot translate model {name} to equations: {err}") from None


def flatten_model(models_dir: Path, name: str, variant: ModelVariant | None = None) -> FlatModel:
    """Parse models_dir and flatten the Modelica class `name` to pymoca's CasADi model (scalar variables).

    With a variant, the class is flattened with the variant's parameter values bound (see variants.py)."""
    from pymoca import ast
    from pymoca.tree import flatten

    models_dir = Path(models_dir)
    tree, files, cls, class_file = _load_class(models_dir, name)
    target = _add_variant(tree, variant) if variant and variant.parameters else name
    try:
        flat_tree = flatten(tree, ast.ComponentRef.from_string(target))
    except ModelError:
        raise
    except Exception as err:
        unknown = re.search(r'Trying to modify symbol "(\w+)", which does not exist', str(err))
        if variant and unknown:
            raise _not_a_parameter(unknown[1], variant, cls, class_file) from None
        raise ModelError(f"{class_file}: pymoca cannot flatten model {name}: {err}") from None
    flat_class = flat_tree.classes[target]
    if variant and variant.parameters:
        _check_bound(flat_class, variant, cls, class_file)
    _check_size(flat_class, name, class_file)
    # error locations are searched in the files the model can depend on, its own file first
    used = model_source_files(files, models_dir, name)
    check_supported(flat_class, used, class_file, name)
    model = _generate(flat_tree, target, tree, name, used, class_file)

    metadata: dict[str, tuple[str | None, str]] = {}
    for sym_name, symbol in flat_class.symbols.items():
        unit = getattr(symbol.unit, "value", None)
        metadata[sym_name] = (unit if isinstance(unit, str) and unit else None, symbol.comment or "")
    experiment = _experiment(cls) or _experiment_from_text(files, class_file, name)
    description = (cls.comment or "").strip()
    if variant and variant.parameters:
        description = f"{description} [{variant.key}]" if description else variant.key
    return FlatModel(
        name=name,
        description=description,
        dae=model,
        metadata=metadata,
        source_files=files,
        class_file=class_file,
        stop_time=experiment.get("StopTime", 1.0),
        tolerance=experiment.get("Tolerance", 1e-6),
        experiment=experiment,
        identifier=variant.identifier if variant else None,
    )
