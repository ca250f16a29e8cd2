"""Where the project's folders are: the one definition of the repository root and its data folders.

The project is installed editable, so the package sits inside the repository: models/ (Modelica sources),
fmus/ (exported FMUs and their manifest) and scenarios/ (named scenarios) are found next to it.
"""

import re
from pathlib import Path

#: Repository root (models/, fmus/, scenarios/ live here).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
FMUS_DIR = PROJECT_ROOT / "fmus"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
#: Trained policies shipped with the repository (policies/dqn/: the DQN supervisor, docs/rl.md).
POLICIES_DIR = PROJECT_ROOT / "policies"
CONTROLLER_SETS_DIR = PROJECT_ROOT / "controller_sets"


#: A Modelica class name (Package.Model): letters, digits and '_' in dotted parts, never a path.
MODELICA_CLASS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def casadi_functions_path(model_name: str, folder: Path = FMUS_DIR) -> Path:
    """Where a Modelica class's serialised CasADi functions lie (next to the FMUs, dots become underscores):
    written by orchestrator.export.functions, read by the controllers that predict with the model (the MPC).

    The name often comes from a scenario (the MPC's ``model`` parameter), and a .casadi file can load a shared
    library when it is read (a CasADi external function), so a name that is not a Modelica class name (a path
    such as '/tmp/x' or 'a/b') is refused with ValueError: the file is always ``folder/<Package_Model>.casadi``."""
    if not isinstance(model_name, str) or not MODELICA_CLASS_RE.match(model_name):
        raise ValueError(
            f"{model_name!r} is not a Modelica class name (Package.Model, e.g. O2Twin.Control.SupervisoryModel)"
        )
    return Path(folder) / f"{model_name.replace('.', '_')}.casadi"
