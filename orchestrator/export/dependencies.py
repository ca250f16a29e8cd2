"""Which Modelica files a model can depend on, found without parsing (so the up-to-date check stays fast).

A conservative closure over the files of the model folder: start from the file(s) declaring the model, add every
file that declares a class whose simple name occurs as a word in a file already in the set, and the package.mo
files of every enclosing folder (package-level constants and `within` parents), until nothing changes. A Modelica
reference always spells the simple name of the class it uses (`Media.R`, `SieveBed`, `O2Twin.Media.clamp01`), so
an edit to a file outside the closure cannot change the model; words that merely look like class names only make
the set larger. Editing an unrelated model then no longer rebuilds every FMU.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_DECLARATION = re.compile(
    r"\b(?:model|block|connector|record|function|package|type|class|operator)\s+([A-Za-z_]\w*)",
)
_WORD = re.compile(r"[A-Za-z_]\w*")
_KEYWORDS = {"end", "within", "equation", "algorithm", "initial", "extends", "import", "each", "final"}


_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = re.compile(r"//[^\n]*")


def code_only(text: str) -> str:
    """Modelica source without strings and comments (descriptions and documentation name no dependencies)."""
    return _LINE_COMMENT.sub(" ", _BLOCK_COMMENT.sub(" ", _STRING.sub('""', text)))


@cache
def _scan(path: Path, mtime_ns: int, size: int) -> tuple[frozenset[str], frozenset[str]]:
    """(declared class names, words) of one file's code; cached per file version."""
    text = code_only(path.read_text(encoding="utf-8", errors="replace"))
    declared = frozenset(m.group(1) for m in _DECLARATION.finditer(text)) - _KEYWORDS
    return declared, frozenset(_WORD.findall(text))


def _scan_file(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    st = path.stat()
    return _scan(path, st.st_mtime_ns, st.st_size)


def model_source_files(files: list[Path], models_dir: Path, model_name: str) -> list[Path]:
    """The subset of `files` (all .mo files of models_dir) that `model_name` may depend on, in the given order.

    Falls back to every file when no file declares the model (the export then fails with a clear message anyway).
    """
    models_dir = Path(models_dir).resolve()
    info = {f: _scan_file(f) for f in files}
    parts = model_name.split(".")
    # The model's declaring file: declares its simple name and, for nested names, sits in or under its packages.
    seeds = [f for f in files if parts[-1] in info[f][0]]
    if not seeds:
        return list(files)
    by_name: dict[str, list[Path]] = {}
    for f, (declared, _) in info.items():
        for name in declared:
            by_name.setdefault(name, []).append(f)
    package_files = {f.resolve().parent: f for f in files if f.name == "package.mo"}

    chosen: set[Path] = set()
    todo = list(seeds)
    # the enclosing packages named in the model's own name (e.g. O2Twin, CoSim) are dependencies too
    for name in parts[:-1]:
        todo.extend(by_name.get(name, []))
    while todo:
        f = todo.pop()
        if f in chosen:
            continue
        chosen.add(f)
        folder = f.resolve().parent
        while folder != models_dir and models_dir in folder.parents:
            if folder in package_files:
                todo.append(package_files[folder])
            folder = folder.parent
        for word in info[f][1]:
            todo.extend(g for g in by_name.get(word, ()) if g not in chosen)
    return [f for f in files if f in chosen]
