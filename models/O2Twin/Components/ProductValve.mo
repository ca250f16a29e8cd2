within O2Twin.Components;
model ProductValve "Product path of one bed: check valve with an optional restrictor and pressure regulator in series"
  extends O2Twin.Components.PartialFlowElement;
  parameter Real d_orifice(unit="m") = 3e-3 "Check valve orifice diameter (fully open)";
  parameter Real Cd(unit="1") = 0.7 "Discharge coefficient of check valve and restrictor";
  parameter Real dp_crack(unit="Pa") = 2000 "Check valve cracking pressure difference";
  parameter Real dp_full(unit="Pa") = 5000 "Pressure difference above cracking at which the check valve is fully open";
  parameter Real d_restrictor(unit="m", min=0) = 0 "Diameter of a fixed product restrictor in series (0: none)";
  parameter Real p_set(unit="Pa", displayUnit="bar", min=0) = 0
    "Regulator setting: outlet pressure above p_amb at which it shuts (0: no regulator)";
  parameter Real dp_band(unit="Pa", min=1) = 1e4
    "Regulator proportional band: fully open this far below its setting";
  parameter Real p_amb(unit="Pa") = 101325 "Ambient pressure: the reference of the gauge setting p_set";
  Real opening_check(unit="1") "Check valve opening 0..1";
  Real opening_regulator(unit="1") "Regulator opening 0..1 (1 without a regulator)";
  Real A_eff(unit="m2") "Effective flow area of the elements in series";
protected
  parameter Real A_check(unit="m2") = Cd*3.14159265358979*d_orifice^2/4 "Effective area of the open check valve";
  parameter Real A_restrictor(unit="m2") = Cd*3.14159265358979*d_restrictor^2/4 "Effective area of the restrictor";
equation
  opening_check = O2Twin.Media.smoothStep((p_a - p_b - dp_crack)/dp_full);
  opening_regulator = if p_set > 0 then O2Twin.Media.smoothStep((p_amb + p_set - p_b)/dp_band) else 1;
  A_eff = if d_restrictor > 0 then A_check*A_restrictor/sqrt(A_check^2 + A_restrictor^2) else A_check;
  n_flow = opening_check*opening_regulator*O2Twin.Media.orificeMolarFlow(p_a, p_b, port_a.T, port_b.T, M_a, M_b,
    A_eff);
  annotation(Documentation(info="<html>
<p>Between a bed's product end (<code>port_a</code>) and the product tank (<code>port_b</code>): the spring-loaded
check valve of Components.CheckValve, and optionally, in series,</p>
<ul>
<li>a <b>product restrictor</b> (fixed orifice, d_restrictor &gt; 0): two orifices in series pass the flow of one
of area A_c A_r / sqrt(A_c^2 + A_r^2) (the series rule of incompressible orifices, used here for the compressible
nozzle law of Media.orificeMolarFlow: exact when both are subsonic at small pressure ratios, an approximation
otherwise). It throttles the flow into the tank, so the tank no longer follows the bed's peak pressure.</li>
<li>a <b>pressure regulator</b> (pressure-reducing valve, p_set &gt; 0): it closes as its outlet pressure p_b rises
towards p_amb + p_set, opening = s((p_amb + p_set - p_b)/dp_band) with the C1 step s of Media.smoothStep:
fully open dp_band below the setting, shut at it. The tank then holds the regulator's setting (within its band)
as long as the beds can supply the demand, whatever the beds' peak.</li>
</ul>
<p>opening = opening_check x opening_regulator, n = opening Media.orificeMolarFlow(p_a, p_b, A_eff): no reverse
flow, nothing without a pressure difference above cracking. A real unit has one regulator after the junction of
the two check valves; since the check valves let only the producing bed feed the tank, one regulator per bed
behaves the same and needs no extra volume between them. With d_restrictor = 0 and p_set = 0 (the defaults) the
element is the plain check valve. Quasi-static: the regulator's spring and diaphragm are much faster than the
pressure swings of the cycle.</p>
</html>"));
end ProductValve;
