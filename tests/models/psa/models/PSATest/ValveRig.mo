within PSATest;
model ValveRig "Solenoid valve between two fixed-pressure reservoirs, commanded open at t = 0"
  O2Twin.Components.Ambient side_a(p_amb=2e5);
  O2Twin.Components.Ambient side_b(p_amb=1e5);
  O2Twin.Components.SolenoidValve valve(d_orifice=3e-3, tau_open=0.02);
  input Real cmd;
  output Real opening;
  output Real n_flow(unit="mol/s");
equation
  connect(side_a.port, valve.port_a);
  connect(valve.port_b, side_b.port);
  valve.cmd = cmd;
  opening = valve.opening;
  n_flow = valve.n_flow;
end ValveRig;
