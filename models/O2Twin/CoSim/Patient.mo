within O2Twin.CoSim;
model Patient "Co-simulation unit: the patient on a nasal cannula (FMU O2Twin_CoSim_Patient)"
  extends O2Twin.Patient.Adult;
  annotation(
    experiment(StartTime=0, StopTime=600, Tolerance=1e-6),
    Documentation(info="<html>
<p>FMU of <code>O2Twin.Patient.Adult</code>: inputs <code>Q_O2</code> (standard m3/s, the delivered product flow)
and <code>y_O2_supply</code> (product O2 fraction); outputs <code>FiO2</code>, <code>PAO2</code> and
<code>PaO2</code> (Pa), <code>SpO2</code> and <code>sensor_SpO2</code> (0..1). Parameters: <code>copd</code>
(0 healthy, 1 COPD), <code>P_baro</code> (altitude) and the preset values. The patient does not feed back into the
plant. It starts in equilibrium with its initial inputs.</p>
</html>"));
end Patient;
