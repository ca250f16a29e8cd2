within O2Twin.Components;
model ReliefValve "Spring-loaded pressure relief valve of the compressor outlet: vents to ambient above its set pressure"
  extends O2Twin.Components.CheckValve(
    final dp_crack=p_set,
    final dp_full=dp_accumulation,
    d_orifice=2.5e-3,
    Cd=0.7);
  parameter Real p_set(unit="Pa", displayUnit="bar", min=0) = 2.41e5
    "Set (cracking) pressure above ambient: 35 psig, 2.41 bar(g)";
  parameter Real dp_accumulation(unit="Pa", displayUnit="bar", min=1) = 0.4e5
    "Overpressure above the set pressure at which the valve is fully lifted";
  annotation(Documentation(info="<html>
<p>The last, mechanical line of defence against overpressure: a spring-loaded poppet between the compressor outlet
(feed manifold, <code>port_a</code>) and the room (<code>port_b</code>). It is the check valve model with a stiff
spring: closed below p_set above ambient, lifting smoothly (C1 step) to full lift p_set + dp_accumulation, where
it passes the choked flow of its orifice. It does not depend on any sensor, controller or watchdog.</p>
<h4>Setting</h4>
<p>p_set = 2.41 bar(g) (35 psig): the compressor relief valve of 5 L/min home concentrators is set at about
35 psig (user and service manuals of 5 L/min units, e.g. Invacare's list 35 +- 3.5 psi; treated as uncertain,
a range of 2.4-3 bar(g) is usual for small units). It lies above the highest feed pressure of normal operation
(cycle peaks below 2 bar(g), docs/physics.md) and below the SafetyWatchdog's limits (PWM reduction above
3.0 bar(g), compressor off above 3.5 bar(g), controllers/watchdog.py): with the feed valves closed and the
compressor at full duty the valve holds the manifold at 2.59 bar(g), venting the compressor's 1.14 g/s, so the
relief alone keeps the pressure below the watchdog's limits and the watchdog remains an independent second layer.
Without the relief path the same dead-headed plant climbs to 18.4 bar(g)
(tests/models/psa/test_psa_relief_valve.py).</p>
<h4>Size</h4>
<p>d_orifice = 2.5 mm (Cd 0.7): at full lift (2.81 bar(g)) the choked flow is 3.1 g/s of air at 300 K, 2.7 times
the compressor's delivery at full duty against that pressure (1.1 g/s), so the valve has capacity to spare.</p>
</html>"));
end ReliefValve;
