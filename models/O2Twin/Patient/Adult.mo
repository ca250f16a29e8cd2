within O2Twin.Patient;
model Adult "Adult patient on a nasal cannula: breathing, FiO2, gas exchange, SpO2; healthy and COPD presets"
  input Real Q_O2(unit="m3/s", min=0, start=0) "Cannula flow (standard: 0 degC, 101325 Pa)";
  input Real y_O2_supply(unit="1", min=0, max=1, start=0.93) "O2 mole fraction of the supplied gas";
  output Real FiO2(unit="1") "Inspired O2 fraction";
  output Real PAO2(unit="Pa") "Alveolar O2 partial pressure";
  output Real PaO2(unit="Pa") "Arterial O2 partial pressure";
  output Real SpO2(unit="1") "Arterial O2 saturation (with the physiological time constants)";
  output Real sensor_SpO2(unit="1") "Pulse oximeter reading (lagged)";

  parameter Real P_baro(unit="Pa") = 101325 "Barometric pressure (altitude: about 89900 Pa at 1000 m, 79500 Pa at 2000 m)";
  parameter Real copd(unit="1", min=0, max=1) = 0
    "Preset selector: 0 = healthy adult, 1 = COPD with hypercapnia; values in between interpolate (severity)";

  // presets: healthy adult at rest (West 2016; Nunn's Applied Respiratory Physiology, 8th ed.) and a stable
  // hypercapnic COPD patient (rapid shallow breathing, high dead space, V/Q mismatch; fitted, docs/physics.md)
  parameter Real respiratory_rate_healthy(unit="1/s", displayUnit="1/min") = 12/60 "Breathing frequency, healthy";
  parameter Real respiratory_rate_copd(unit="1/s", displayUnit="1/min") = 20/60 "Breathing frequency, COPD";
  parameter Real tidal_volume_healthy(unit="m3") = 0.5e-3 "Tidal volume, healthy";
  parameter Real tidal_volume_copd(unit="m3") = 0.45e-3 "Tidal volume, COPD";
  parameter Real dead_space_healthy(unit="m3") = 0.15e-3 "Physiological dead space, healthy";
  parameter Real dead_space_copd(unit="m3") = 0.25e-3 "Physiological dead space, COPD (V_D/V_T 0.56)";
  parameter Real VO2_healthy(unit="m3/s") = 250e-6/60 "O2 consumption, healthy (250 mL/min STPD)";
  parameter Real VO2_copd(unit="m3/s") = 300e-6/60 "O2 consumption, COPD (work of breathing)";
  parameter Real respiratory_quotient(unit="1") = 0.8
    "CO2 production over O2 consumption (mixed diet); VCO2 = respiratory_quotient VO2, so exercise raises both";
  parameter Real shunt_fraction_healthy(unit="1") = 0.03 "Shunt (bronchial and Thebesian veins), healthy";
  parameter Real shunt_fraction_copd(unit="1") = 0.15 "Shunt incl. very low V/Q units, COPD (fitted)";
  parameter Real dPO2_VQ_healthy(unit="Pa") = 2*133.322387415 "V/Q mismatch PO2 drop, healthy (2 mmHg)";
  parameter Real dPO2_VQ_copd(unit="Pa") = 27*133.322387415 "V/Q mismatch PO2 drop, COPD (27 mmHg, fitted)";
  parameter Real FRC_healthy(unit="m3") = 2.5e-3 "Functional residual capacity, healthy";
  parameter Real FRC_copd(unit="m3") = 4.0e-3 "Functional residual capacity, COPD (hyperinflation)";
  parameter Real hemoglobin_healthy(unit="kg/m3") = 150 "Haemoglobin, healthy (15 g/dL)";
  parameter Real hemoglobin_copd(unit="kg/m3") = 150 "Haemoglobin, COPD (15 g/dL)";
  parameter Real cardiac_output_healthy(unit="m3/s") = 5e-3/60 "Cardiac output, healthy (5 L/min)";
  parameter Real cardiac_output_copd(unit="m3/s") = 5e-3/60 "Cardiac output, COPD (5 L/min)";

  // effective patient (the preset, or the interpolation between the two)
  Real respiratory_rate(unit="1/s", displayUnit="1/min", start=0.2) "Breathing frequency";
  Real tidal_volume(unit="m3", start=0.5e-3) "Tidal volume";
  Real dead_space(unit="m3", start=0.15e-3) "Physiological dead space";
  Real VO2(unit="m3/s", start=4.2e-6) "O2 consumption (STPD)";
  Real VCO2(unit="m3/s", start=3.3e-6) "CO2 production (STPD)";
  Real shunt_fraction(unit="1") "Shunt fraction";
  Real dPO2_VQ(unit="Pa") "V/Q mismatch PO2 drop";
  Real FRC(unit="m3", start=2.5e-3) "Functional residual capacity";
  Real hemoglobin(unit="kg/m3", start=150) "Haemoglobin concentration";
  Real cardiac_output(unit="m3/s", start=8.3e-5) "Cardiac output";
  Real minute_ventilation(unit="m3/s") "Minute ventilation (BTPS)";
  Real PaCO2(unit="Pa") "Arterial CO2 partial pressure";

  O2Twin.Patient.Breathing breathing;
  O2Twin.Patient.NasalCannula cannula;
  O2Twin.Patient.GasExchange lung;
  O2Twin.Patient.PulseOximeter oximeter;
initial equation
  // the patient starts in equilibrium with the initial cannula flow
  der(lung.PAO2) = 0;
  der(lung.PaO2) = 0;
  der(oximeter.sensor_SpO2) = 0;
equation
  respiratory_rate = respiratory_rate_healthy + copd*(respiratory_rate_copd - respiratory_rate_healthy);
  tidal_volume = tidal_volume_healthy + copd*(tidal_volume_copd - tidal_volume_healthy);
  dead_space = dead_space_healthy + copd*(dead_space_copd - dead_space_healthy);
  VO2 = VO2_healthy + copd*(VO2_copd - VO2_healthy);
  VCO2 = respiratory_quotient*VO2;
  shunt_fraction = shunt_fraction_healthy + copd*(shunt_fraction_copd - shunt_fraction_healthy);
  dPO2_VQ = dPO2_VQ_healthy + copd*(dPO2_VQ_copd - dPO2_VQ_healthy);
  FRC = FRC_healthy + copd*(FRC_copd - FRC_healthy);
  hemoglobin = hemoglobin_healthy + copd*(hemoglobin_copd - hemoglobin_healthy);
  cardiac_output = cardiac_output_healthy + copd*(cardiac_output_copd - cardiac_output_healthy);

  breathing.respiratory_rate = respiratory_rate;
  breathing.tidal_volume = tidal_volume;
  breathing.dead_space = dead_space;
  minute_ventilation = breathing.minute_ventilation;

  cannula.Q_O2 = Q_O2;
  cannula.y_O2_supply = y_O2_supply;
  cannula.tidal_volume = tidal_volume;
  cannula.T_inspiration = breathing.T_inspiration;
  cannula.T_pause = breathing.T_pause;
  cannula.P_baro = P_baro;
  FiO2 = cannula.FiO2;

  lung.FiO2 = FiO2;
  lung.alveolar_ventilation = breathing.alveolar_ventilation;
  lung.P_baro = P_baro;
  lung.VO2 = VO2;
  lung.VCO2 = VCO2;
  lung.shunt_fraction = shunt_fraction;
  lung.dPO2_VQ = dPO2_VQ;
  lung.FRC = FRC;
  lung.hemoglobin = hemoglobin;
  lung.cardiac_output = cardiac_output;
  PaCO2 = lung.PaCO2;
  PAO2 = lung.PAO2;
  PaO2 = lung.PaO2;
  SpO2 = lung.SpO2;

  oximeter.SpO2 = SpO2;
  sensor_SpO2 = oximeter.sensor_SpO2;
  annotation(Documentation(info="<html>
<p>The patient at the end of the cannula: <code>Breathing</code> (rate, tidal volume, dead space) feeds
<code>NasalCannula</code> (FiO2 from flow and supply purity) and <code>GasExchange</code> (PaCO2 from alveolar
ventilation, alveolar gas equation with lung wash-in, V/Q mismatch and shunt, arterial PO2, Severinghaus SpO2);
<code>PulseOximeter</code> lags SpO2 to the displayed reading.</p>
<p>Presets: the Real parameter <code>copd</code> selects the parameter set, 0 = healthy adult, 1 = COPD;
every physiological quantity is q = q_healthy + copd (q_copd - q_healthy), so a scenario selects a patient by one
FMU parameter (and may override single values through the <code>*_healthy</code>/<code>*_copd</code> parameters).</p>
<table border=\"1\">
<tr><th>quantity</th><th>healthy</th><th>COPD</th></tr>
<tr><td>rate, tidal volume, dead space</td><td>12 /min, 0.50 L, 0.15 L</td><td>20 /min, 0.45 L, 0.25 L</td></tr>
<tr><td>VO2 (VCO2 = 0.8 VO2)</td><td>250 mL/min</td><td>300 mL/min</td></tr>
<tr><td>PaCO2 (computed)</td><td>41 mmHg</td><td>52 mmHg</td></tr>
<tr><td>shunt, dPO2_VQ</td><td>0.03, 2 mmHg</td><td>0.15, 27 mmHg</td></tr>
<tr><td>FRC, Hb, cardiac output</td><td>2.5 L, 15 g/dL, 5 L/min</td><td>4.0 L, 15 g/dL, 5 L/min</td></tr>
</table>
<p>Results on room air at sea level: healthy SpO2 96.8 %, COPD about 84 % (below the 88-92 % target of BTS 2017);
1 L/min of 93 % O2 brings the COPD patient into 88-92 %.</p>
</html>"));
end Adult;
