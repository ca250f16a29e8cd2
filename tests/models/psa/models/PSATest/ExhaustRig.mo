within PSATest;
model ExhaustRig "A 0.5 L volume at 2.5 bar blown down through an open exhaust valve into an exhaust volume and its check valve"
  parameter Real V_chamber(unit="m3") = 0.2e-3;
  parameter Real crack(unit="Pa") = 1000;
  O2Twin.Components.ProductTank bed(V=0.5e-3, p_start=2.5e5);
  O2Twin.Components.SolenoidValve vent(d_orifice=4e-3);
  O2Twin.Components.ExhaustVolume exhaust(V=V_chamber);
  O2Twin.Components.CheckValve exhaustCheck(d_orifice=6e-3, dp_crack=crack, dp_full=2000);
  O2Twin.Components.Ambient room;
  input Real cmd;
  output Real p_bed(unit="Pa");
  output Real p_exhaust(unit="Pa");
  output Real n_out(unit="mol/s");
  output Real n_held(unit="mol");
  output Real N_out(unit="mol", start=0, fixed=true);
equation
  connect(bed.port, vent.port_a);
  connect(vent.port_b, exhaust.port);
  connect(exhaust.port, exhaustCheck.port_a);
  connect(exhaustCheck.port_b, room.port);
  vent.cmd = cmd;
  p_bed = bed.p;
  p_exhaust = exhaust.p;
  n_out = exhaustCheck.n_flow;
  n_held = sum(bed.n) + sum(exhaust.n);
  der(N_out) = exhaustCheck.n_flow;
end ExhaustRig;
