within PSATest;
model OrificeRig "Orifice between two fixed-pressure air reservoirs"
  parameter Real p_a(unit="Pa") = 3e5;
  parameter Real p_b(unit="Pa") = 1e5;
  parameter Real d(unit="m") = 1e-3;
  O2Twin.Components.Ambient side_a(p_amb=p_a);
  O2Twin.Components.Ambient side_b(p_amb=p_b);
  O2Twin.Components.Orifice orifice(d_orifice=d);
  output Real n_flow(unit="mol/s");
equation
  connect(side_a.port, orifice.port_a);
  connect(orifice.port_b, side_b.port);
  n_flow = orifice.n_flow;
end OrificeRig;
