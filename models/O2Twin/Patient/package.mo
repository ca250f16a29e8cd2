within O2Twin;
package Patient "Patient physiology: breathing, FiO2, gas exchange, SpO2"
  annotation(Documentation(info="<html>
<p>The patient at the end of the nasal cannula. <code>Adult</code> is the complete patient (inputs cannula flow and
supply purity; outputs FiO2, PAO2, PaO2, SpO2 and the pulse-oximeter reading) built from four blocks:</p>
<ul>
<li><b>Breathing</b>: rate, tidal volume and dead space to minute and alveolar ventilation and breath timing.</li>
<li><b>NasalCannula</b>: FiO2 of a low-flow cannula with room-air entrainment and the anatomical reservoir.</li>
<li><b>GasExchange</b>: PaCO2 (alveolar ventilation equation), alveolar gas equation with lung wash-in,
V/Q mismatch and shunt, arterial PO2 and Severinghaus saturation.</li>
<li><b>Ventilation</b>: minute ventilation from CO2 production, breathing drive and ventilatory capacity.</li>
<li><b>FingerCirculation</b>: the lung-to-finger delay of the saturation the pulse oximeter sees.</li>
</ul>
<p>Parameter <code>copd</code> selects the healthy (0) or COPD (1) preset. Equations, sources and the validation
are in docs/physics-compressor-patient.md.</p>
</html>"));
end Patient;
