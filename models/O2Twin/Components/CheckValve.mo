within O2Twin.Components;
model CheckValve "Spring-loaded check valve: opens above a cracking pressure, flow only a -> b"
  extends O2Twin.Components.PartialFlowElement;
  parameter Real d_orifice(unit="m") = 3e-3 "Orifice diameter of the fully open valve";
  parameter Real Cd(unit="1") = 0.7 "Discharge coefficient";
  parameter Real dp_crack(unit="Pa") = 2000 "Cracking pressure difference";
  parameter Real dp_full(unit="Pa") = 5000 "Pressure difference above cracking at which it is fully open";
  Real opening(unit="1") "Relative opening 0..1";
equation
  opening = O2Twin.Media.smoothStep((p_a - p_b - dp_crack)/dp_full);
  n_flow = opening*O2Twin.Media.orificeMolarFlow(p_a, p_b, port_a.T, port_b.T, M_a, M_b,
    Cd*3.14159265358979*d_orifice^2/4);
  annotation(Documentation(info="<html>
<p>opening = s((p_a - p_b - dp_crack)/dp_full) with the C1 step s(x) = 3x^2 - 2x^3 on 0..1: closed below the
cracking pressure (so no reverse flow), fully open dp_full above it; flow through the open area by
Media.orificeMolarFlow. The valve poppet has negligible inertia at these time scales (quasi-static).</p>
</html>"));
end CheckValve;
