within PSATest;
model CheckValveRig "Check valve between two fixed-pressure air reservoirs"
  parameter Real p_a(unit="Pa") = 2e5;
  parameter Real p_b(unit="Pa") = 1e5;
  O2Twin.Components.Ambient side_a(p_amb=p_a);
  O2Twin.Components.Ambient side_b(p_amb=p_b);
  O2Twin.Components.CheckValve valve(d_orifice=3e-3);
  output Real n_flow(unit="mol/s");
equation
  connect(side_a.port, valve.port_a);
  connect(valve.port_b, side_b.port);
  n_flow = valve.n_flow;
end CheckValveRig;
