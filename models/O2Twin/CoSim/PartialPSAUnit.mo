within O2Twin.CoSim;
partial model PartialPSAUnit "Two-bed PSA unit without its exhaust path (PSAUnit: valves vent to the room; PSAUnitExhaust: through a blowdown volume)"
  parameter Real y_feed_Ar(unit="1") = 0.00934 "Argon mole fraction of the feed air (0 for the no-argon check)";
  parameter Integer nCells = 10 "Axial cells per sieve bed";
  parameter Real T_ambient(unit="K") = 298.15 "Ambient temperature";
  parameter Real p_ambient(unit="Pa") = 101325 "Ambient (vent and patient outlet) pressure";
  parameter Real D_bed(unit="m") = 0.05 "Sieve bed inner diameter";
  parameter Real L_bed(unit="m") = 0.22 "Sieve bed packed length";
  parameter Real k_LDF_N2(unit="1/s") = 12 "LDF coefficient of N2 (fitting parameter)";
  parameter Real k_LDF_O2(unit="1/s") = 20 "LDF coefficient of O2 and Ar (fitting parameter)";
  parameter Real V_feed(unit="m3", min=1e-6) = 0.3e-3 "Feed manifold volume";
  parameter Real V_tank(unit="m3", min=1e-6) = 1.0e-3 "Product tank volume";
  parameter Real d_feed_valve(unit="m") = 3.0e-3 "Feed valve orifice diameter";
  parameter Real d_vent_valve(unit="m") = 4.0e-3 "Exhaust valve orifice diameter (incl. muffler)";
  parameter Real d_equalize_valve(unit="m") = 2.5e-3 "Equalisation valve orifice diameter";
  parameter Real d_purge(unit="m") = 0.7e-3 "Purge orifice diameter";
  parameter Real d_check_valve(unit="m") = 3.0e-3 "Product check valve orifice diameter";
  parameter Real d_flow_control(unit="m") = 1.5e-3 "Flow control valve orifice diameter when fully open";
  parameter Real tau_sensor_O2(unit="s") = 2 "Ultrasonic O2 sensor time constant";
  parameter Real UA_aftercooler(unit="W/K", min=0) = 3.0
    "Conductance of the feed air cooling coil (0: no cooling, e.g. a failed fan)";
  parameter Real p_relief_set(unit="Pa", displayUnit="bar", min=0) = 2.41e5
    "Relief valve set pressure above ambient (35 psig; see Components.ReliefValve)";
  parameter Real d_relief(unit="m", min=0) = 2.5e-3
    "Relief valve orifice diameter (0 removes the relief path: only for fault studies)";
  parameter Real t_ramp_valve(unit="s", min=0) = 0
    "Full-stroke travel time of the five solenoid valves at their highest speed (0: first-order lag tau_open only)";
  parameter Real d_product_restrictor(unit="m", min=0) = 0
    "Fixed restrictor in series with each product check valve (0: none)";
  parameter Real p_regulator_set(unit="Pa", displayUnit="bar", min=0) = 0
    "Product pressure regulator between beds and tank: tank pressure above ambient it holds (0: no regulator)";
  parameter Real dp_regulator_band(unit="Pa", min=1) = 1e4 "Regulator proportional band (fully open this far below its setting)";
  parameter Real T_dead_O2(unit="s", min=0) = 0
    "Dead time of the O2 reading (sampling line, cell flush) before its first-order lag (0: none)";
  parameter Real D_axial(unit="m2/s", min=0) = 0 "Axial dispersion coefficient in the beds (0: numerical dispersion only)";
  input Real m_flow_feed(unit="kg/s", min=0) "Air from the compressor";
  input Real T_feed(unit="K", start=298.15) "Feed air temperature at the compressor outlet (before the cooling coil)";
  input Real cmd_feed_A(unit="1", min=0, max=1) "Feed valve bed A";
  input Real cmd_feed_B(unit="1", min=0, max=1) "Feed valve bed B";
  input Real cmd_vent_A(unit="1", min=0, max=1) "Exhaust valve bed A";
  input Real cmd_vent_B(unit="1", min=0, max=1) "Exhaust valve bed B";
  input Real cmd_equalize(unit="1", min=0, max=1) "Equalisation valve between the product ends";
  input Real Q_set(unit="m3/s", min=0, max=1.7e-4) "Product flow setpoint (standard m3/s)";
  input Real blockage(unit="1", min=0, max=1) "Cannula blockage (0 open, 1 blocked)";
  input Real noise_O2(unit="1", start=0) "Electronic noise added to the O2 sensor reading (from a noise source block)";
  input Real noise_p_feed(unit="Pa", start=0) "Electronic noise added to the feed pressure reading";
  input Real noise_p_tank(unit="Pa", start=0) "Electronic noise added to the tank pressure reading";
  input Real noise_Q(unit="m3/s", start=0) "Electronic noise added to the flow reading";
  output Real p_feed(unit="Pa") "Feed manifold pressure";
  output Real p_bed_A(unit="Pa") "Bed A pressure (feed end)";
  output Real p_bed_B(unit="Pa") "Bed B pressure (feed end)";
  output Real p_tank(unit="Pa") "Product tank pressure";
  output Real y_O2_product(unit="1") "O2 mole fraction delivered";
  output Real Q_product(unit="m3/s") "Delivered standard flow";
  output Real T_bed_A(unit="K") "Mean temperature of bed A";
  output Real T_bed_B(unit="K") "Mean temperature of bed B";
  output Real sensor_O2(unit="1") "O2 sensor reading";
  output Real sensor_p_feed(unit="Pa") "Feed pressure sensor reading";
  output Real sensor_p_tank(unit="Pa") "Tank pressure sensor reading";
  output Real sensor_Q(unit="m3/s") "Product flow sensor reading";
  output Real sensor_T(unit="K") "Bed temperature sensor reading (mean of both beds)";
  output Real T_manifold(unit="K") "Feed manifold gas temperature (air after the cooling coil)";
  output Real Q_relief(unit="m3/s") "Flow vented by the relief valve (standard m3/s)";
  output Real N_feed[3](each unit="mol", each start=0, each fixed=true) "Cumulative moles fed (N2, O2, Ar)";
  output Real N_product[3](each unit="mol", each start=0, each fixed=true) "Cumulative moles delivered";
  output Real N_vent[3](each unit="mol", each start=0, each fixed=true) "Cumulative moles vented";
  output Real N_inventory[3](each unit="mol") "Moles held in manifold, beds and tank";
  O2Twin.Components.Aftercooler cooler(UA=UA_aftercooler, T_amb=T_ambient);
  O2Twin.Components.FeedManifold feed(V=V_feed, y_Ar=y_feed_Ar, p_start=p_ambient, T_start=T_ambient);
  O2Twin.Components.SieveBed bedA(N=nCells, D=D_bed, L=L_bed, T_amb=T_ambient, p_start=p_ambient,
    T_start=T_ambient, k_ldf_N2=k_LDF_N2, k_ldf_O2=k_LDF_O2, y_Ar_start=y_feed_Ar, D_ax=D_axial);
  O2Twin.Components.SieveBed bedB(N=nCells, D=D_bed, L=L_bed, T_amb=T_ambient, p_start=p_ambient,
    T_start=T_ambient, k_ldf_N2=k_LDF_N2, k_ldf_O2=k_LDF_O2, y_Ar_start=y_feed_Ar, D_ax=D_axial);
  O2Twin.Components.ReliefValve relief(p_set=p_relief_set, d_orifice=d_relief);
  O2Twin.Components.SolenoidValve valveFeedA(d_orifice=d_feed_valve, t_ramp=t_ramp_valve);
  O2Twin.Components.SolenoidValve valveFeedB(d_orifice=d_feed_valve, t_ramp=t_ramp_valve);
  O2Twin.Components.SolenoidValve valveVentA(d_orifice=d_vent_valve, t_ramp=t_ramp_valve);
  O2Twin.Components.SolenoidValve valveVentB(d_orifice=d_vent_valve, t_ramp=t_ramp_valve);
  O2Twin.Components.SolenoidValve valveEqualize(d_orifice=d_equalize_valve, t_ramp=t_ramp_valve);
  O2Twin.Components.Orifice purge(d_orifice=d_purge);
  O2Twin.Components.ProductValve checkA(d_orifice=d_check_valve, d_restrictor=d_product_restrictor,
    p_set=p_regulator_set, dp_band=dp_regulator_band, p_amb=p_ambient);
  O2Twin.Components.ProductValve checkB(d_orifice=d_check_valve, d_restrictor=d_product_restrictor,
    p_set=p_regulator_set, dp_band=dp_regulator_band, p_amb=p_ambient);
  O2Twin.Components.ProductTank tank(V=V_tank, T_amb=T_ambient, p_start=p_ambient, y_Ar_start=y_feed_Ar);
  O2Twin.Components.FlowControlValve flowControl(d_max=d_flow_control);
  O2Twin.Components.Ambient ambient(p_amb=p_ambient, T_amb=T_ambient, y_Ar=y_feed_Ar);
  O2Twin.Components.TransportDelay delayO2(T_dead=T_dead_O2, y_start=0.2095);
  O2Twin.Components.FirstOrderSensor sensorO2(tau=tau_sensor_O2, y_start=0.2095);
  O2Twin.Components.FirstOrderSensor sensorPFeed(tau=0.02, y_start=p_ambient);
  O2Twin.Components.FirstOrderSensor sensorPTank(tau=0.02, y_start=p_ambient);
  O2Twin.Components.FirstOrderSensor sensorQ(tau=0.2, y_start=0, y(nominal=1e-4));
  O2Twin.Components.FirstOrderSensor sensorT(tau=5, y_start=T_ambient);
protected
  Real n_exhaust[3](each unit="mol/s") "Species flows leaving through the exhaust path to the room";
  Real n_exhaust_held[3](each unit="mol") "Moles held in the exhaust path between the exhaust valves and the room";
equation
  connect(feed.port, valveFeedA.port_a);
  connect(feed.port, valveFeedB.port_a);
  connect(feed.port, relief.port_a);
  connect(relief.port_b, ambient.port);
  connect(valveFeedA.port_b, bedA.port_a);
  connect(valveFeedB.port_b, bedB.port_a);
  connect(bedA.port_a, valveVentA.port_a);
  connect(bedB.port_a, valveVentB.port_a);
  connect(bedA.port_b, checkA.port_a);
  connect(bedB.port_b, checkB.port_a);
  connect(checkA.port_b, tank.port);
  connect(checkB.port_b, tank.port);
  connect(bedA.port_b, valveEqualize.port_a);
  connect(valveEqualize.port_b, bedB.port_b);
  connect(bedA.port_b, purge.port_a);
  connect(purge.port_b, bedB.port_b);
  connect(tank.port, flowControl.port_a);
  connect(flowControl.port_b, ambient.port);
  feed.m_flow_in = m_flow_feed;
  cooler.m_flow = m_flow_feed;
  cooler.T_in = T_feed;
  feed.T_in = cooler.T_out;
  T_manifold = feed.T;
  valveFeedA.cmd = cmd_feed_A;
  valveFeedB.cmd = cmd_feed_B;
  valveVentA.cmd = cmd_vent_A;
  valveVentB.cmd = cmd_vent_B;
  valveEqualize.cmd = cmd_equalize;
  flowControl.Q_set = Q_set;
  flowControl.blockage = blockage;
  p_feed = feed.p;
  p_bed_A = bedA.p_a;
  p_bed_B = bedB.p_a;
  p_tank = tank.p;
  y_O2_product = tank.y[2];
  Q_product = flowControl.Q_standard;
  T_bed_A = bedA.T_mean;
  T_bed_B = bedB.T_mean;
  delayO2.u = y_O2_product;
  sensorO2.u = delayO2.y;
  sensorPFeed.u = p_feed;
  sensorPTank.u = p_tank;
  sensorQ.u = Q_product;
  sensorT.u = (T_bed_A + T_bed_B)/2;
  sensor_O2 = sensorO2.y + noise_O2;
  sensor_p_feed = sensorPFeed.y + noise_p_feed;
  sensor_p_tank = sensorPTank.y + noise_p_tank;
  sensor_Q = sensorQ.y + noise_Q;
  sensor_T = sensorT.y;
  Q_relief = relief.n_flow*O2Twin.Media.R*O2Twin.Media.T_std/O2Twin.Media.p_std;
  for i in 1:3 loop
    der(N_feed[i]) = feed.n_flow_in[i];
    der(N_product[i]) = flowControl.port_a.n_flow[i];
    der(N_vent[i]) = n_exhaust[i] + relief.port_a.n_flow[i];
    N_inventory[i] = feed.n[i] + tank.n[i] + bedA.inventory[i] + bedB.inventory[i] + n_exhaust_held[i];
  end for;
  annotation(Documentation(info="<html>
<p>Everything of the PSA unit (O2Twin.CoSim.PSAUnit, documented there and in docs/physics.md) except where the
exhaust valves vent to: an extending model connects valveVentA.port_b and valveVentB.port_b and defines
n_exhaust (species flows leaving to the room that way) and n_exhaust_held (moles held on that path), which enter the
counters N_vent and N_inventory. Optional parts, all off by default: valve opening ramps (t_ramp_valve), a product
restrictor and a pressure regulator between beds and tank (d_product_restrictor, p_regulator_set), the O2 sensor's
dead time (T_dead_O2) and axial dispersion in the beds (D_axial).</p>
</html>"));
end PartialPSAUnit;
