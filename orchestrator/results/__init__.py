"""Results of a run: streamed CSV and Modelica .mat signals, event log, metrics.json, standard plots."""
