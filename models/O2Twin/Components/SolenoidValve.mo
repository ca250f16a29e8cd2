within O2Twin.Components;
model SolenoidValve "2/2 solenoid valve: compressible orifice with finite opening time"
  extends O2Twin.Components.PartialFlowElement;
  parameter Real d_orifice(unit="m") = 2.5e-3 "Orifice diameter of the fully open valve";
  parameter Real Cd(unit="1") = 0.7 "Discharge coefficient";
  parameter Real tau_open(unit="s") = 0.02 "Opening/closing time constant (armature travel)";
  parameter Real leak(unit="1") = 1e-5 "Leakage of the closed valve as fraction of the open area";
  parameter Real t_ramp(unit="s", min=0) = 0
    "Full-stroke travel time at the valve's highest opening speed (slow-opening coil or soft-start driver); 0: first-order lag only";
  input Real cmd(unit="1") "Valve command, 0 = closed, 1 = open (values outside 0..1 are limited)";
  Real opening(unit="1", start=0, fixed=true) "Relative opening 0..1";
equation
  der(opening) = (O2Twin.Media.clamp01(cmd) - opening)
    /(tau_open + t_ramp*noEvent(abs(O2Twin.Media.clamp01(cmd) - opening)));
  n_flow = (leak + (1 - leak)*opening)*O2Twin.Media.orificeMolarFlow(p_a, p_b, port_a.T, port_b.T, M_a, M_b,
    Cd*3.14159265358979*d_orifice^2/4);
  annotation(Documentation(info="<html>
<p>Flow: isentropic orifice (subsonic and choked, see Media.orificeMolarFlow) of effective area
(leak + (1 - leak) x) Cd pi d^2/4. The opening x follows the command with a first-order lag,
dx/dt = (clamp(cmd, 0, 1) - x)/tau_open: small 2/2 solenoid valves open and close in 10-30 ms. Sizes: 2-3 mm
orifice as in the feed/exhaust valves of 5-10 L/min concentrators.</p>
<p><b>Opening ramp.</b> With t_ramp &gt; 0 the travel is speed-limited:
dx/dt = (u - x)/(tau_open + t_ramp |u - x|), u = clamp(cmd, 0, 1). A full stroke moves at about 1/t_ramp (a linear
ramp) and ends in the first-order approach: from closed, x is reached after t = tau_open ln(1/(1 - x)) + t_ramp x
(closed form, checked in tests/models/psa/test_psa_parts.py). Slow-opening valves of 0.1-0.2 s soften the pressure
shocks on the sieve at each bed switch. t_ramp = 0 is the plain lag (the default).</p>
</html>"));
end SolenoidValve;
