"""Modelica -> FMI 2.0 FMU export: the built-in exporter (pymoca -> CasADi -> C) and the OpenModelica backend."""

from orchestrator.export.api import cosim_models, export_model, fmu_path

__all__ = ["cosim_models", "export_model", "fmu_path"]
