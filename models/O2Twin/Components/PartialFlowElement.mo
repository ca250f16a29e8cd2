within O2Twin.Components;
partial model PartialFlowElement "Flow element between two volume ports: upwind composition and enthalpy"
  O2Twin.Interfaces.GasPort port_a "Side a (positive flow a -> b)";
  O2Twin.Interfaces.GasPort port_b "Side b";
  Real n_flow(unit="mol/s", nominal=0.01) "Total molar flow from a to b";
  Real p_a(unit="Pa", nominal=1e5) "Pressure at port a";
  Real p_b(unit="Pa", nominal=1e5) "Pressure at port b";
  Real M_a(unit="kg/mol") "Molar mass of the gas at port a";
  Real M_b(unit="kg/mol") "Molar mass of the gas at port b";
  Real ctot_a(unit="mol/m3") "Total concentration at port a";
  Real ctot_b(unit="mol/m3") "Total concentration at port b";
equation
  ctot_a = port_a.c[1] + port_a.c[2] + port_a.c[3];
  ctot_b = port_b.c[1] + port_b.c[2] + port_b.c[3];
  p_a = O2Twin.Media.R*port_a.T*ctot_a;
  p_b = O2Twin.Media.R*port_b.T*ctot_b;
  M_a = (O2Twin.Media.M[1]*port_a.c[1] + O2Twin.Media.M[2]*port_a.c[2] + O2Twin.Media.M[3]*port_a.c[3])/ctot_a;
  M_b = (O2Twin.Media.M[1]*port_b.c[1] + O2Twin.Media.M[2]*port_b.c[2] + O2Twin.Media.M[3]*port_b.c[3])/ctot_b;
  for i in 1:3 loop
    port_a.n_flow[i] = n_flow*noEvent(if n_flow > 0 then port_a.c[i]/ctot_a else port_b.c[i]/ctot_b);
    port_b.n_flow[i] = -port_a.n_flow[i];
  end for;
  port_a.H_flow = n_flow*O2Twin.Media.cp_gas*noEvent(if n_flow > 0 then port_a.T else port_b.T);
  port_b.H_flow = -port_a.H_flow;
  annotation(Documentation(info="<html>
<p>Species flows n_i = n_flow y_i,upwind and enthalpy flow H = n_flow cp T_upwind (first-order upwind). The
extending model supplies one equation for n_flow from p_a, p_b (explicit, so no algebraic loop).
noEvent: the switch is continuous in value (n_flow = 0 at the switch), so no event is needed.</p>
</html>"));
end PartialFlowElement;
