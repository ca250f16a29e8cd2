within O2Twin.CoSim;
model PSAUnit "Two-bed PSA unit: feed manifold, valves, two Li-LSX sieve beds, product tank, flow control, sensors"
  extends O2Twin.CoSim.PartialPSAUnit;
equation
  connect(valveVentA.port_b, ambient.port);
  connect(valveVentB.port_b, ambient.port);
  for i in 1:3 loop
    n_exhaust[i] = valveVentA.port_a.n_flow[i] + valveVentB.port_a.n_flow[i];
    n_exhaust_held[i] = 0;
  end for;
  annotation(
    experiment(StartTime=0, StopTime=600, Tolerance=1e-6),
    Documentation(info="<html>
<p>The PSA half of the concentrator as one co-simulation unit (FMU O2Twin_CoSim_PSAUnit). Gas path:</p>
<pre>
 compressor -> cooling coil -> feed manifold -+- feed valve A -> bed A -> check valve A -+-> product tank -> flow control -> patient
                                             |      vent valve A <-+    |  purge orifice, |
                                             |                          |  equalise valve |
                                             +- feed valve B -> bed B -> check valve B --+
                                                    vent valve B <-+
</pre>
<p>The compressed air passes a fan-cooled coil (Components.Aftercooler, UA 3 W/K) before the manifold, as in real
units: it leaves close to the room temperature instead of warming the beds.
A spring-loaded relief valve (Components.ReliefValve, set 2.41 bar(g)) vents the feed manifold to the room
when the pressure exceeds its setting, e.g. with the feed valves closed and the compressor running; its flow is
counted in N_vent and reported as Q_relief.</p>
<p>Optional parts, each off (neutral) by default, documented with numbers in docs/physics.md, section Optional parts:
valve opening ramps (t_ramp_valve), a product restrictor and a pressure regulator between the beds and the tank
(d_product_restrictor, p_regulator_set, dp_regulator_band; Components.ProductValve), the O2 reading's dead time
(T_dead_O2; Components.TransportDelay) and axial dispersion in the beds (D_axial). A separate blowdown volume with an
exhaust check valve is the variant O2Twin.CoSim.PSAUnitExhaust.</p>
<p>Sensors: each reading is the measured quantity through the sensor's first-order lag (O2 2 s, pressures 0.02 s,
flow 0.2 s, bed temperature 5 s) plus the noise inputs noise_O2, noise_p_feed, noise_p_tank and noise_Q, driven by
a seeded noise source (controllers/sensors.py, SensorNoise; 0 when unconnected). The noise enters after the lag
(electronics), and the inputs feed the readings directly, without adding a step of latency to them.</p>
<p>The valve commands come from the PSA sequencer (a Python controller); this model has no events. The feed
manifold pressure p_feed is a state, so the compressor FMU (flow depends on discharge pressure) couples through
a capacitance. The cumulative counters N_feed, N_product, N_vent and the inventory N_inventory (i = N2, O2, Ar)
satisfy N_feed - N_product - N_vent = N_inventory - N_inventory(0) up to the integrator tolerance.</p>
<p><b>Reference design</b> (5 L/min class, rated 5.0 standard L/min at &gt;= 90 % O2): two Li-LSX beds
50 mm x 220 mm (0.43 L, 0.32 kg each), 1 L product tank, feed 1.28 g/s of air (59 standard L/min) at
1.9-2.4 bar abs, 7 s cycle (3.0 s adsorption, 0.5 s equalisation per bed). At cyclic steady state: 91.9 % O2,
36.9 % O2 recovery. Sizing, validation and measured figures: docs/physics.md.</p>
</html>"));
end PSAUnit;
