within PSATest;
model DeadHeadRig "Compressor at a fixed duty into the PSA unit with every valve closed and no product flow"
  parameter Real duty(unit="1") = 1;
  parameter Real d_relief_valve(unit="m") = 2.5e-3 "Relief valve orifice (0: no relief path)";
  O2Twin.Components.Compressor compressor(T_ambient=298.15);
  O2Twin.CoSim.PSAUnit psa(nCells=3, d_relief=d_relief_valve);
  output Real p_feed(unit="Pa");
  output Real Q_relief(unit="m3/s");
  output Real m_flow(unit="kg/s");
equation
  compressor.duty = duty;
  compressor.p_discharge = psa.p_feed;
  psa.m_flow_feed = compressor.m_flow;
  psa.T_feed = compressor.T_discharge;
  psa.cmd_feed_A = 0;
  psa.cmd_feed_B = 0;
  psa.cmd_vent_A = 0;
  psa.cmd_vent_B = 0;
  psa.cmd_equalize = 0;
  psa.Q_set = 0;
  psa.blockage = 0;
  psa.noise_O2 = 0;
  psa.noise_p_feed = 0;
  psa.noise_p_tank = 0;
  psa.noise_Q = 0;
  p_feed = psa.p_feed;
  Q_relief = psa.Q_relief;
  m_flow = compressor.m_flow;
end DeadHeadRig;
