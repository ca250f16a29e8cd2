within O2Twin.Plant;
model Concentrator "Monolithic plant: compressor, PSA unit and patient connected in one model"
  parameter Real T_room(unit="K") = 298.15 "Ambient (room) temperature of compressor and PSA unit";
  parameter Real y_Ar_air(unit="1") = 0.00934 "Argon mole fraction of the air";
  input Real duty(unit="1", min=0, max=1) "Compressor motor PWM duty";
  input Real cmd_feed_A(unit="1", min=0, max=1) "Feed valve bed A";
  input Real cmd_feed_B(unit="1", min=0, max=1) "Feed valve bed B";
  input Real cmd_vent_A(unit="1", min=0, max=1) "Exhaust valve bed A";
  input Real cmd_vent_B(unit="1", min=0, max=1) "Exhaust valve bed B";
  input Real cmd_equalize(unit="1", min=0, max=1) "Equalisation valve";
  input Real Q_set(unit="m3/s", min=0, max=1.7e-4) "Product flow setpoint (standard m3/s)";
  input Real blockage(unit="1", min=0, max=1) "Cannula blockage (0 open, 1 blocked)";
  // compressor outputs
  output Real m_flow(unit="kg/s") "Delivered air mass flow";
  output Real T_discharge(unit="K") "Compressor outlet air temperature";
  output Real speed(unit="rad/s") "Motor/crank speed";
  output Real power(unit="W") "Compressor electrical power";
  output Real T_head(unit="K") "Compressor head/motor temperature";
  output Real deflection(unit="m") "Diaphragm peak deflection";
  output Real cycles(unit="1") "Diaphragm load cycles";
  // PSA unit outputs
  output Real p_feed(unit="Pa") "Feed manifold pressure";
  output Real p_bed_A(unit="Pa") "Bed A pressure";
  output Real p_bed_B(unit="Pa") "Bed B pressure";
  output Real p_tank(unit="Pa") "Product tank pressure";
  output Real y_O2_product(unit="1") "O2 mole fraction delivered";
  output Real Q_product(unit="m3/s") "Delivered standard flow";
  output Real T_bed_A(unit="K") "Mean temperature of bed A";
  output Real T_bed_B(unit="K") "Mean temperature of bed B";
  output Real sensor_O2(unit="1") "O2 sensor reading";
  output Real sensor_p_feed(unit="Pa") "Feed pressure sensor reading";
  output Real sensor_p_tank(unit="Pa") "Tank pressure sensor reading";
  output Real sensor_Q(unit="m3/s") "Product flow sensor reading";
  output Real sensor_T(unit="K") "Bed temperature sensor reading";
  output Real N_feed[3](each unit="mol") "Cumulative moles fed (N2, O2, Ar)";
  output Real N_product[3](each unit="mol") "Cumulative moles delivered";
  output Real N_vent[3](each unit="mol") "Cumulative moles vented";
  output Real N_inventory[3](each unit="mol") "Moles held in the PSA unit";
  // patient outputs
  output Real FiO2(unit="1") "Inspired O2 fraction";
  output Real PAO2(unit="Pa") "Alveolar O2 partial pressure";
  output Real PaO2(unit="Pa") "Arterial O2 partial pressure";
  output Real SpO2(unit="1") "Arterial O2 saturation";
  output Real sensor_SpO2(unit="1") "Pulse oximeter reading";
  O2Twin.Components.Compressor compressor(T_ambient=T_room);
  O2Twin.CoSim.PSAUnit psa(T_ambient=T_room, y_feed_Ar=y_Ar_air);
  O2Twin.Patient.Adult patient;
equation
  // compressor <-> PSA unit: the compressor sees the manifold pressure (a state of the PSA unit)
  compressor.duty = duty;
  compressor.speed_set = 0;  // duty-driven (use_speed_input = false)
  compressor.p_discharge = psa.p_feed;
  psa.m_flow_feed = compressor.m_flow;
  psa.T_feed = compressor.T_discharge;
  psa.cmd_feed_A = cmd_feed_A;
  psa.cmd_feed_B = cmd_feed_B;
  psa.cmd_vent_A = cmd_vent_A;
  psa.cmd_vent_B = cmd_vent_B;
  psa.cmd_equalize = cmd_equalize;
  psa.Q_set = Q_set;
  psa.blockage = blockage;
  // ideal sensors (no electronic noise) and a patient at rest, awake, without acute events
  psa.noise_O2 = 0;
  psa.noise_p_feed = 0;
  psa.noise_p_tank = 0;
  psa.noise_Q = 0;
  patient.metabolic_rate = 1;
  patient.ventilation_drive = 1;
  patient.vq_impairment = 0;
  // PSA unit -> patient (no feedback: the cannula flow is set by the flow control valve)
  patient.Q_O2 = psa.Q_product;
  patient.y_O2_supply = psa.y_O2_product;
  m_flow = compressor.m_flow;
  T_discharge = compressor.T_discharge;
  speed = compressor.speed;
  power = compressor.power;
  T_head = compressor.T_head;
  deflection = compressor.deflection;
  cycles = compressor.cycles;
  p_feed = psa.p_feed;
  p_bed_A = psa.p_bed_A;
  p_bed_B = psa.p_bed_B;
  p_tank = psa.p_tank;
  y_O2_product = psa.y_O2_product;
  Q_product = psa.Q_product;
  T_bed_A = psa.T_bed_A;
  T_bed_B = psa.T_bed_B;
  sensor_O2 = psa.sensor_O2;
  sensor_p_feed = psa.sensor_p_feed;
  sensor_p_tank = psa.sensor_p_tank;
  sensor_Q = psa.sensor_Q;
  sensor_T = psa.sensor_T;
  for i in 1:3 loop
    N_feed[i] = psa.N_feed[i];
    N_product[i] = psa.N_product[i];
    N_vent[i] = psa.N_vent[i];
    N_inventory[i] = psa.N_inventory[i];
  end for;
  FiO2 = patient.FiO2;
  PAO2 = patient.PAO2;
  PaO2 = patient.PaO2;
  SpO2 = patient.SpO2;
  sensor_SpO2 = patient.sensor_SpO2;
  annotation(
    experiment(StartTime=0, StopTime=600, Tolerance=1e-6),
    Documentation(info="<html>
<p>The three co-simulation units' physics in one model, connected exactly as the co-simulation couples them
(docs/interfaces.md): compressor delivery m_flow and outlet temperature into the PSA unit's feed manifold, the
manifold pressure (a state) back to the compressor, the delivered flow and purity to the patient. Inputs are the
compressor duty, the five valve commands, the flow setpoint and the cannula blockage; outputs are the union of the
units' outputs under the same names. Used to check co-simulation (with its communication step) against a
single-solver reference.</p>
</html>"));
end Concentrator;
