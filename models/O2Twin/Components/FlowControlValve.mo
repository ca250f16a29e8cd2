within O2Twin.Components;
model FlowControlValve "Product flow regulator: delivers the standard-flow setpoint while the tank pressure allows"
  extends O2Twin.Components.PartialFlowElement;
  parameter Real d_max(unit="m") = 2e-3 "Orifice diameter of the fully open regulator (flow authority)";
  parameter Real Cd(unit="1") = 0.7 "Discharge coefficient";
  input Real Q_set(unit="m3/s") "Product flow setpoint (standard m3/s at 0 degC, 101325 Pa)";
  input Real blockage(unit="1") "Cannula blockage 0 (open) .. 1 (fully blocked)";
  Real n_set(unit="mol/s") "Setpoint as molar flow, reduced by the blockage";
  Real n_max(unit="mol/s") "Flow through the fully open regulator at the present pressures (>= 0)";
  Real Q_standard(unit="m3/s") "Delivered standard volume flow";
equation
  n_set = noEvent(max(Q_set, 0))*(1 - O2Twin.Media.clamp01(blockage))*O2Twin.Media.p_std/(O2Twin.Media.R*O2Twin.Media.T_std);
  n_max = noEvent(max(O2Twin.Media.orificeMolarFlow(p_a, p_b, port_a.T, port_b.T, M_a, M_b,
    Cd*3.14159265358979*d_max^2/4), 0));
  n_flow = n_set*n_max/(n_set^4 + n_max^4 + 1e-24)^0.25;
  Q_standard = n_flow*O2Twin.Media.R*O2Twin.Media.T_std/O2Twin.Media.p_std;
  annotation(Documentation(info="<html>
<p>The pressure regulator and flow-control (needle) valve of a concentrator, lumped: the delivered molar flow is the
smooth minimum n = n_set n_max/(n_set^4 + n_max^4)^(1/4) of the setpoint n_set = Q_set (1 - blockage)
p_std/(R T_std) and of the flow the fully open valve could pass at the present tank pressure, n_max (choked or
subsonic orifice, Media.orificeMolarFlow). With ample tank pressure (n_max &gt;&gt; n_set) the setpoint is met
within 0.1 %; when the tank pressure collapses, the flow falls with it. A blocked cannula (blockage = 1) gives
zero flow. The regulator dynamics (tens of ms) are neglected.</p>
</html>"));
end FlowControlValve;
