"""Modelica -> FMI 2.0 FMU export: the built-in exporter (pymoca -> CasADi -> C) and the OpenModelica backend."""
