within O2Twin.CoSim;
model PSAUnitExhaust "PSA unit whose exhaust valves blow down into a separate exhaust volume with an exhaust check valve"
  extends O2Twin.CoSim.PartialPSAUnit;
  parameter Real V_exhaust(unit="m3", min=1e-6) = 0.2e-3 "Blowdown/exhaust volume (chamber and muffler)";
  parameter Real d_exhaust_check(unit="m", min=0) = 6e-3 "Exhaust check valve orifice diameter (fully open)";
  parameter Real dp_crack_exhaust(unit="Pa", min=0) = 1000 "Exhaust check valve cracking pressure";
  output Real p_exhaust(unit="Pa") "Exhaust volume pressure";
  O2Twin.Components.ExhaustVolume exhaust(V=V_exhaust, T_amb=T_ambient, p_start=p_ambient, y_Ar_start=y_feed_Ar);
  O2Twin.Components.CheckValve exhaustCheck(d_orifice=d_exhaust_check, dp_crack=dp_crack_exhaust, dp_full=2000);
equation
  connect(valveVentA.port_b, exhaust.port);
  connect(valveVentB.port_b, exhaust.port);
  connect(exhaust.port, exhaustCheck.port_a);
  connect(exhaustCheck.port_b, ambient.port);
  p_exhaust = exhaust.p;
  for i in 1:3 loop
    n_exhaust[i] = exhaustCheck.port_a.n_flow[i];
    n_exhaust_held[i] = exhaust.n[i];
  end for;
  annotation(
    experiment(StartTime=0, StopTime=600, Tolerance=1e-6),
    Documentation(info="<html>
<p>O2Twin.CoSim.PSAUnit (same inputs, outputs and parameters) with the exhaust path of units that collect the
blowdown gas before the muffler: both exhaust valves discharge into an exhaust volume (Components.ExhaustVolume,
V_exhaust = 0.2 L), which vents to the room through a spring-loaded exhaust check valve (Components.CheckValve,
6 mm, cracking at 1 kPa, fully open 2 kPa above). The volume's back-pressure slows each bed's blowdown; the check
valve keeps room air out of the venting bed. Extra output p_exhaust; the exhaust volume's moles count in
N_inventory and the flow through the exhaust check valve in N_vent, so the counters balance as in PSAUnit.</p>
</html>"));
end PSAUnitExhaust;
