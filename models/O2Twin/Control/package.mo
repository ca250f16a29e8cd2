within O2Twin;
package Control "Control-oriented models: what the model-predictive controller predicts with"
  annotation(Documentation(info="<html>
<p>The full PSA unit is stiff and switches its valves every few seconds; an optimiser that predicts minutes ahead
needs a smooth, cycle-averaged model instead. This package holds it, in Modelica like the rest of the physics, so
the controller's prediction comes from the same source as the FMUs (exported as CasADi functions by
<code>orchestrator.export.functions</code>, never re-typed in Python):</p>
<ul>
<li><b>LumpedConcentrator</b>: cycle-mean feed pressure, delivered purity and compressor power as functions of the
feed-pressure setpoint and the flow request, with first-order dynamics; coefficients fitted to the full PSA FMU
in closed loop with its pressure PID (<code>scripts/mpc_identify.py</code>, docs/controllers.md, \"MPC\").</li>
<li><b>SupervisoryModel</b>: the lumped concentrator feeding the patient model
(<code>O2Twin.Patient.Adult</code>) through the nasal cannula, and the pulse oximeter's display lag: the MPC's
prediction model.</li>
</ul>
</html>"));
end Control;
