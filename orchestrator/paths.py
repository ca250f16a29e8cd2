"""Where the project's folders are: the one definition of the repository root and its data folders.

The project is installed editable, so the package sits inside the repository: models/ (Modelica sources),
fmus/ (exported FMUs and their manifest) and scenarios/ (named scenarios) are found next to it.
"""

from pathlib import Path

#: Repository root (models/, fmus/, scenarios/ live here).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
FMUS_DIR = PROJECT_ROOT / "fmus"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
#: Trained policies shipped with the repository (policies/dqn/: the DQN supervisor, docs/rl.md).
POLICIES_DIR = PROJECT_ROOT / "policies"
CONTROLLER_SETS_DIR = PROJECT_ROOT / "controller_sets"


def casadi_functions_path(model_name: str, folder: Path = FMUS_DIR) -> Path:
    """Where a Modelica class's serialised CasADi functions lie (next to the FMUs, dots become underscores):
    written by orchestrator.export.functions, read by the controllers that predict with the model (the MPC)."""
    return Path(folder) / f"{model_name.replace('.', '_')}.casadi"
