within O2Twin.Patient;
model Adult "Adult patient on a nasal cannula: breathing, FiO2, gas exchange, SpO2; healthy and COPD presets; activity, sleep and acute events"
  input Real Q_O2(unit="m3/s", min=0, start=0) "Cannula flow (standard: 0 degC, 101325 Pa)";
  input Real y_O2_supply(unit="1", min=0, max=1, start=0.93) "O2 mole fraction of the supplied gas";
  input Real metabolic_rate(unit="1", min=0.5, max=10, start=1)
    "O2 demand as a multiple of the resting VO2 (1 rest, 0.9 asleep, 2-3 walking; 1 MET = the resting VO2)";
  input Real ventilation_drive(unit="1", min=0.2, max=1.5, start=1)
    "Breathing drive relative to wakefulness (1 awake, 0.85-0.95 asleep: sleep hypoventilation)";
  input Real vq_impairment(unit="1", min=0, max=1, start=0)
    "Acute worsening of gas exchange (0 none, 1 the full increments shunt_impairment and dPO2_VQ_impairment): an exacerbation, mucus plugging";
  output Real FiO2(unit="1") "Inspired O2 fraction";
  output Real PAO2(unit="Pa") "Alveolar O2 partial pressure";
  output Real PaO2(unit="Pa") "Arterial O2 partial pressure";
  output Real SpO2(unit="1") "Arterial O2 saturation (with the physiological time constants)";
  output Real sensor_SpO2(unit="1") "Arterial saturation at the finger (circulation delay; the oximeter device is a separate sensor block)";
  output Real PaCO2(unit="Pa") "Arterial CO2 partial pressure";
  output Real respiratory_rate(unit="1/s", displayUnit="1/min", start=0.2) "Breathing frequency";
  output Real VO2(unit="m3/s", start=4.2e-6, nominal=5e-6) "O2 consumption (STPD)";

  parameter Real Q_O2_before(unit="m3/s") = -1
    "Cannula flow the patient breathed before the session (standard m3/s); the patient starts in equilibrium with it (negative: with the initial input Q_O2)";
  parameter Real y_O2_before(unit="1", min=0, max=1) = 0.93 "O2 fraction of that earlier supply (used when Q_O2_before >= 0)";
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
  parameter Real ventilatory_capacity_healthy(unit="m3/s") = 120e-3/60 "Ventilatory capacity, healthy (120 L/min)";
  parameter Real ventilatory_capacity_copd(unit="m3/s") = 35e-3/60 "Ventilatory capacity, severe COPD (35 L/min)";
  // responses to activity and acute events (both presets)
  parameter Real tau_VO2(unit="s") = 45 "Time constant of the O2 uptake after a change of activity (on-kinetics)";
  parameter Real cardiac_output_per_VO2(unit="1") = 5.5
    "Rise of cardiac output per rise of O2 uptake (both as volume flows; Astrand: 5-6)";
  parameter Real diffusion_limitation_healthy(unit="Pa") = 0 "End-capillary PO2 deficit per relative rise of cardiac output, healthy";
  parameter Real diffusion_limitation_copd(unit="Pa") = 15*133.322387415
    "End-capillary PO2 deficit per relative rise of cardiac output, COPD (emphysema: low diffusing capacity; 15 mmHg)";
  parameter Real shunt_impairment(unit="1") = 0.10 "Shunt added at vq_impairment = 1";
  parameter Real dPO2_VQ_impairment(unit="Pa") = 25*133.322387415 "V/Q mismatch PO2 drop added at vq_impairment = 1 (25 mmHg)";

  // effective patient at rest (the preset, or the interpolation between the two)
  Real respiratory_rate_rest(unit="1/s", displayUnit="1/min", start=0.2) "Breathing frequency at rest";
  Real tidal_volume_rest(unit="m3", start=0.5e-3) "Tidal volume at rest";
  Real VO2_rest(unit="m3/s", start=4.2e-6) "O2 consumption at rest (STPD)";
  Real cardiac_output_rest(unit="m3/s", start=8.3e-5) "Cardiac output at rest";
  Real ventilatory_capacity(unit="m3/s", start=2e-3) "Ventilatory capacity";
  // the patient now
  Real tidal_volume(unit="m3", start=0.5e-3) "Tidal volume";
  Real dead_space(unit="m3", start=0.15e-3) "Physiological dead space";
  Real VCO2(unit="m3/s", start=3.3e-6) "CO2 production (STPD)";
  Real shunt_fraction(unit="1") "Shunt fraction";
  Real dPO2_VQ(unit="Pa") "V/Q mismatch PO2 drop";
  Real FRC(unit="m3", start=2.5e-3) "Functional residual capacity";
  Real hemoglobin(unit="kg/m3", start=150) "Haemoglobin concentration";
  Real cardiac_output(unit="m3/s", start=8.3e-5) "Cardiac output";
  Real minute_ventilation(unit="m3/s") "Minute ventilation (BTPS)";

  O2Twin.Patient.Ventilation ventilation(VCO2_rest=respiratory_quotient*VO2_rest_preset,
    V_A_rest=respiratory_rate_rest_preset*(tidal_volume_rest_preset - dead_space_preset),
    V_T_rest=tidal_volume_rest_preset, V_E_max=ventilatory_capacity_preset);
  O2Twin.Patient.Breathing breathing;
  O2Twin.Patient.NasalCannula cannula;
  O2Twin.Patient.NasalCannula cannulaBefore "The earlier supply, for the initial equilibrium";
  O2Twin.Patient.GasExchange lung;
  O2Twin.Patient.FingerCirculation oximeter;
protected
  constant Real P_H2O = 6266.6 "Water vapour pressure at 37 degC (47 mmHg), Pa";
  parameter Real respiratory_rate_rest_preset(unit="1/s") = respiratory_rate_healthy + copd*(respiratory_rate_copd - respiratory_rate_healthy);
  parameter Real tidal_volume_rest_preset(unit="m3") = tidal_volume_healthy + copd*(tidal_volume_copd - tidal_volume_healthy);
  parameter Real VO2_rest_preset(unit="m3/s") = VO2_healthy + copd*(VO2_copd - VO2_healthy);
  parameter Real dead_space_preset(unit="m3") = dead_space_healthy + copd*(dead_space_copd - dead_space_healthy);
  parameter Real ventilatory_capacity_preset(unit="m3/s") = ventilatory_capacity_healthy + copd*(ventilatory_capacity_copd - ventilatory_capacity_healthy);
initial equation
  // the patient starts in equilibrium with the initial cannula flow and activity
  der(VO2) = 0;
  lung.PAO2 = cannulaBefore.FiO2*(P_baro - P_H2O) - lung.PaCO2/lung.R_resp;
  der(lung.PaO2) = 0;
  der(oximeter.sensor_SpO2) = 0;
equation
  respiratory_rate_rest = respiratory_rate_rest_preset;
  tidal_volume_rest = tidal_volume_rest_preset;
  VO2_rest = VO2_rest_preset;
  ventilatory_capacity = ventilatory_capacity_preset;
  cardiac_output_rest = cardiac_output_healthy + copd*(cardiac_output_copd - cardiac_output_healthy);
  dead_space = dead_space_preset;
  FRC = FRC_healthy + copd*(FRC_copd - FRC_healthy);
  hemoglobin = hemoglobin_healthy + copd*(hemoglobin_copd - hemoglobin_healthy);

  // activity: O2 uptake follows the demand with first-order on-kinetics; CO2 and blood flow follow the uptake
  der(VO2) = (VO2_rest*max(metabolic_rate, 0.5) - VO2)/tau_VO2;
  VCO2 = respiratory_quotient*VO2;
  cardiac_output = cardiac_output_rest + cardiac_output_per_VO2*(VO2 - VO2_rest);
  // acute events: V/Q mismatch and shunt worsen
  shunt_fraction = shunt_fraction_healthy + copd*(shunt_fraction_copd - shunt_fraction_healthy)
    + min(max(vq_impairment, 0), 1)*shunt_impairment;
  dPO2_VQ = dPO2_VQ_healthy + copd*(dPO2_VQ_copd - dPO2_VQ_healthy) + min(max(vq_impairment, 0), 1)*dPO2_VQ_impairment
    + (diffusion_limitation_healthy + copd*(diffusion_limitation_copd - diffusion_limitation_healthy))
      *0.5*(cardiac_output/cardiac_output_rest - 1 + sqrt((cardiac_output/cardiac_output_rest - 1)^2 + 1e-4));

  // breathing: ventilation follows CO2 production and the drive, up to the ventilatory capacity
  ventilation.VCO2 = VCO2;
  ventilation.drive = ventilation_drive;
  ventilation.dead_space = dead_space;
  respiratory_rate = ventilation.respiratory_rate;
  tidal_volume = ventilation.tidal_volume;

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
  cannulaBefore.Q_O2 = if Q_O2_before >= 0 then Q_O2_before else Q_O2;
  cannulaBefore.y_O2_supply = if Q_O2_before >= 0 then y_O2_before else y_O2_supply;
  cannulaBefore.tidal_volume = tidal_volume;
  cannulaBefore.T_inspiration = breathing.T_inspiration;
  cannulaBefore.T_pause = breathing.T_pause;
  cannulaBefore.P_baro = P_baro;
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
