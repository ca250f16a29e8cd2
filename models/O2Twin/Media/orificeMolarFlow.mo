within O2Twin.Media;
function orificeMolarFlow "Compressible (subsonic and choked) ideal-gas orifice flow, both directions"
  input Real p_a(unit="Pa") "Pressure on side a";
  input Real p_b(unit="Pa") "Pressure on side b";
  input Real T_a(unit="K") "Temperature on side a";
  input Real T_b(unit="K") "Temperature on side b";
  input Real M_a(unit="kg/mol") "Molar mass of the gas on side a";
  input Real M_b(unit="kg/mol") "Molar mass of the gas on side b";
  input Real CdA(unit="m2") "Discharge coefficient times orifice area";
  output Real n_flow(unit="mol/s") "Molar flow from a to b (negative from b to a)";
protected
  Real gamma "Isentropic exponent of air";
  Real R "Molar gas constant";
  Real pr_crit "Critical pressure ratio (2/(gamma+1))^(gamma/(gamma-1))";
  Real dir "+1 a to b, -1 b to a";
  Real p_up;
  Real T_up;
  Real M_up;
  Real pr "Downstream/upstream pressure ratio, limited to the critical ratio (choked flow)";
  Real psi2 "pr^(2/gamma) - pr^((gamma+1)/gamma)";
algorithm
  gamma := 1.4;
  R := 8.314462618;
  pr_crit := (2/(gamma + 1))^(gamma/(gamma - 1));
  dir := if p_a >= p_b then 1 else -1;
  p_up := if p_a >= p_b then p_a else p_b;
  T_up := if p_a >= p_b then T_a else T_b;
  M_up := if p_a >= p_b then M_a else M_b;
  pr := if p_a >= p_b then p_b/p_a else p_a/p_b;
  pr := if pr > pr_crit then pr else pr_crit;
  psi2 := pr^(2/gamma) - pr^((gamma + 1)/gamma);
  n_flow := dir*CdA*p_up*sqrt(2*gamma/((gamma - 1)*R*T_up*M_up))*psi2/(psi2*psi2 + 1e-8)^0.25;
  annotation(Documentation(info="<html>
<p>Isentropic nozzle (Saint-Venant-Wantzel) flow of an ideal gas through an orifice of effective area Cd*A:</p>
<pre>  m_flow = Cd A p_up sqrt(2 gamma/((gamma-1) R_s T_up)) sqrt(pr^(2/gamma) - pr^((gamma+1)/gamma)),
  pr = max(p_down/p_up, pr_crit),  pr_crit = (2/(gamma+1))^(gamma/(gamma-1)) = 0.528 (air)</pre>
<p>For pr below the critical ratio the flow is choked (independent of the downstream pressure). Since the
bracket is maximal at pr_crit, the limit is C1-continuous. The square root is regularised,
sqrt(psi2) -> psi2/(psi2^2 + delta^2)^(1/4) with delta = 1e-4 (about 0.04 % pressure difference; within 1 % of
the square root for psi2 &gt; 7 delta) so that the flow is smooth and has a finite derivative at zero pressure
difference. Molar flow = m_flow / M_up. Source: any gas dynamics text, e.g. ISO 6358 background; White,
Fluid Mechanics, ch. 9.</p>
</html>"));
end orificeMolarFlow;
