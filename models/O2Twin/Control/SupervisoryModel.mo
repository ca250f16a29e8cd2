within O2Twin.Control;
model SupervisoryModel "The MPC's prediction model: lumped concentrator, nasal cannula, the patient's gas exchange and the oximeter's lag"
  input Real p_set(unit="Pa", nominal=2e5, start=180000) "Feed-pressure setpoint (absolute)";
  input Real Q_set(unit="m3/s", nominal=3e-5, start=3.33e-5) "Product flow request (standard m3/s)";
  input Real cycle_scale(unit="1", start=1) "PSA cycle-time scale (1 = the nominal cycle)";
  input Real y_O2_offset(unit="1", start=0) "Purity disturbance (estimated online)";
  input Real gas_exchange(unit="1", min=0, max=1, start=0.3375)
    "The patient's V/Q-mismatch PO2 drop as a share of dPO2_VQ_range (estimated online; the COPD preset's 27 mmHg is 0.3375)";
  parameter Real ambient_pressure(unit="Pa") = 101325 "Ambient pressure at the unit and the patient (altitude)";
  parameter Real copd_preset(unit="1", min=0, max=1) = 1 "Patient preset (0 healthy, 1 COPD): O2Twin.Patient.Adult's copd";
  parameter Real dPO2_VQ_range(unit="Pa") = 80*133.322387415
    "V/Q-mismatch PO2 drop at gas_exchange = 1 (80 mmHg: from a healthy lung to a severe exacerbation)";
  parameter Real tau_display(unit="s") = 4
    "Lag of the oximeter's display (an 8 s moving average delays a change by about 4 s)";
  output Real p_feed(unit="Pa", nominal=2e5) "Feed pressure, cycle mean";
  output Real y_O2_product(unit="1") "Delivered O2 fraction, cycle mean";
  output Real Q_product(unit="m3/s", nominal=3e-5) "Delivered flow (standard m3/s)";
  output Real Q_O2(unit="m3/s", nominal=3e-5) "Delivered pure O2 (standard m3/s)";
  output Real sensor_O2(unit="1") "O2 sensor reading";
  output Real power(unit="W", nominal=200) "Compressor electrical power, cycle mean";
  output Real SpO2(unit="1") "Arterial O2 saturation";
  output Real spo2_display(unit="1", start=0.9) "What the pulse oximeter displays (before noise and 1 % steps)";
  O2Twin.Control.LumpedConcentrator concentrator(p_ambient=ambient_pressure);
  O2Twin.Patient.Adult patient(copd=copd_preset, P_baro=ambient_pressure, dPO2_VQ_healthy=0, dPO2_VQ_copd=0,
    dPO2_VQ_impairment=dPO2_VQ_range, shunt_impairment=0);
initial equation
  der(spo2_display) = 0;
equation
  concentrator.p_set = p_set;
  concentrator.Q_set = Q_set;
  concentrator.cycle_scale = cycle_scale;
  concentrator.y_O2_offset = y_O2_offset;
  patient.Q_O2 = concentrator.Q_product;
  patient.y_O2_supply = concentrator.y_O2;
  patient.metabolic_rate = 1;
  patient.ventilation_drive = 1;
  patient.vq_impairment = gas_exchange;
  der(spo2_display) = (patient.sensor_SpO2 - spo2_display)/tau_display;
  p_feed = concentrator.p_feed;
  y_O2_product = concentrator.y_O2;
  Q_product = concentrator.Q_product;
  Q_O2 = concentrator.Q_product*concentrator.y_O2;
  sensor_O2 = concentrator.sensor_O2;
  power = concentrator.power;
  SpO2 = patient.SpO2;
  annotation(Documentation(info="<html>
<p>The model the supervisory MPC (controllers/mpc.py) predicts with: <code>LumpedConcentrator</code> delivers
<code>Q_product</code> at purity <code>y_O2</code> into <code>O2Twin.Patient.Adult</code> (breathing, nasal
cannula, lung wash-in, V/Q mismatch and shunt, arterial PO2, Severinghaus saturation, lung-to-finger delay), at
rest and awake; <code>spo2_display</code> adds the oximeter's averaging lag. Inputs: the three supervisory commands
(<code>p_set</code>, <code>Q_set</code>, <code>cycle_scale</code>) and two disturbances the controller's estimator tracks:
<code>y_O2_offset</code> (purity the map misses) and <code>gas_exchange</code>, the patient's V/Q-mismatch PO2 drop
<code>gas_exchange dPO2_VQ_range</code> (the preset's fixed drop is replaced by this input, so one number stands for
how well this patient, now, oxygenates: the sampled patient, an exacerbation, sleep or exercise).</p>
<p>States: the concentrator's p_feed, y_O2 and sensor_O2; the patient's VO2, PAO2, PaO2 and sensor_SpO2; the
display. Parameters are those of the parts (the patient's <code>patient.*_copd</code> presets included); a changed
value changes the prediction after the next export.</p>
</html>"));
end SupervisoryModel;
