within PSATest;
model ReliefRig "Relief valve between a fixed-pressure reservoir and the room"
  parameter Real p_a(unit="Pa") = 4e5;
  O2Twin.Components.Ambient side_a(p_amb=p_a);
  O2Twin.Components.Ambient room;
  O2Twin.Components.ReliefValve valve;
  output Real n_flow(unit="mol/s");
equation
  connect(side_a.port, valve.port_a);
  connect(valve.port_b, room.port);
  n_flow = valve.n_flow;
end ReliefRig;
