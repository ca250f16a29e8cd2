within PSATest;
model RegulatorRig "Product valve (check, restrictor, regulator) from a fixed-pressure source into a 1 L tank drawn through an orifice"
  parameter Real p_source(unit="Pa") = 2.5e5;
  parameter Real setting(unit="Pa") = 1.0e5;
  parameter Real d_r(unit="m") = 0;
  parameter Real d_draw(unit="m") = 0.6e-3;
  O2Twin.Components.Ambient source(p_amb=p_source);
  O2Twin.Components.Ambient room;
  O2Twin.Components.ProductValve valve(p_set=setting, d_restrictor=d_r);
  O2Twin.Components.ProductTank tank(V=1e-3);
  O2Twin.Components.Orifice draw(d_orifice=d_draw);
  output Real p_tank(unit="Pa");
  output Real n_in(unit="mol/s");
  output Real n_out(unit="mol/s");
equation
  connect(source.port, valve.port_a);
  connect(valve.port_b, tank.port);
  connect(tank.port, draw.port_a);
  connect(draw.port_b, room.port);
  p_tank = tank.p;
  n_in = valve.n_flow;
  n_out = draw.n_flow;
end RegulatorRig;
