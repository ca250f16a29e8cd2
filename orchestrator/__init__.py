"""O2 Twin orchestrator: FMU export, co-simulation master, scenarios, results and hardware in the loop."""

from pathlib import Path

__version__ = "0.1.0"

#: Repository root (models/, fmus/, scenarios/ live here; the project is installed editable).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
FMUS_DIR = PROJECT_ROOT / "fmus"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
