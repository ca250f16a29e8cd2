package O2Twin "Digital twin of a two-bed PSA medical oxygen concentrator and its patient"
  annotation(Documentation(info="<html>
<p>Self-contained Modelica package (no Modelica Standard Library) of a stationary 5-10 L/min class oxygen
concentrator: oil-free compressor, two Li-LSX sieve beds in a Skarstrom cycle, valves, product tank with flow
control, sensors, and a patient model. SI units throughout.</p>
<ul>
<li><b>Interfaces</b>: connectors.</li>
<li><b>Media</b>: air composition, gas properties, adsorption isotherms.</li>
<li><b>Components</b>: compressor, valves, sieve bed, product tank, sensors.</li>
<li><b>Patient</b>: breathing, FiO2, alveolar gas equation, Severinghaus SpO2.</li>
<li><b>CoSim</b>: the co-simulation units exported as FMUs (Compressor, PSAUnit, Patient).</li>
<li><b>Plant</b>: the monolithic plant (same components in one model) to check co-simulation against.</li>
</ul>
</html>"));
end O2Twin;
