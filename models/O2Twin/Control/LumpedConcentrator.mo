within O2Twin.Control;
block LumpedConcentrator "Cycle-averaged PSA concentrator: feed pressure, purity and power from the pressure setpoint, the flow request and the cycle-time scale"
  input Real p_set(unit="Pa", nominal=2e5, start=180000) "Feed-pressure setpoint of the pressure loop (absolute)";
  input Real Q_set(unit="m3/s", nominal=3e-5, start=3.33e-5) "Product flow request (standard m3/s)";
  input Real cycle_scale(unit="1", start=1)
    "PSA cycle-time scale (the sequencer's cycle_time_scale times the watchdog's trim; 1 = the nominal 7.5 s cycle)";
  input Real y_O2_offset(unit="1", start=0)
    "Purity disturbance added to the static map (warm-up, sieve ageing, map error): estimated online";
  parameter Real p_ambient(unit="Pa") = 101325 "Ambient pressure (reference of the gauge pressures in the maps)";
  parameter Real tau_p(unit="s") = 7.5 "Time constant of the closed feed-pressure loop (cycle mean)";
  // static purity map y_ss(g, q), g feed pressure in bar(g), q flow in L/min (fitted: scripts/mpc_identify.py)
  parameter Real y_max_0(unit="1") = 0.9504 "Purity at low flow, at 0 bar(g) (argon-limited)";
  parameter Real y_max_per_bar(unit="1") = 0.01215 "Rise of the low-flow purity per bar(g)";
  parameter Real q_knee_0(unit="1") = -3.0 "Knee flow at 0 bar(g), L/min: above it the purity falls";
  parameter Real q_knee_per_bar(unit="1") = 12.92 "Knee flow per bar(g), L/min per bar";
  parameter Real q_knee_per_bar2(unit="1") = -4.497 "Knee flow per bar(g) squared, L/min per bar^2";
  parameter Real slope_0(unit="1") = 0.2489 "Purity lost per L/min above the knee, at 0 bar(g)";
  parameter Real slope_decay(unit="1") = 0.0 "Exponential decay of that slope per bar(g)";
  parameter Real knee_width(unit="1") = 0.7506 "Width of the knee, L/min (smooth transition)";
  // cycle-time scale s: the production capacity (knee flow), the low-flow purity and the power move with (s - 1)
  parameter Real q_knee_per_scale(unit="1") = -1.13 "Knee flow per unit of cycle-time scale, L/min";
  parameter Real y_max_per_scale(unit="1") = -0.02767 "Low-flow purity per unit of cycle-time scale";
  parameter Real power_per_scale(unit="W") = -94.43 "Compressor power per unit of cycle-time scale";
  // purity dynamics: first order, faster at high flow (the product tank is turned over faster)
  parameter Real tau_y_ref(unit="s") = 136.2 "Purity time constant at 2 L/min";
  parameter Real tau_y_exponent(unit="1") = 0.0 "tau_y = tau_y_ref (2 L/min / Q)^tau_y_exponent";
  // compressor power map (cycle mean), W: a0 + a1 g + a2 g^2 + a3 q + a4 q g
  parameter Real power_0(unit="W") = -47.73 "Power at 0 bar(g) and no flow";
  parameter Real power_per_bar(unit="W") = 179.4 "Power per bar(g)";
  parameter Real power_per_bar2(unit="W") = 43.2 "Power per bar(g) squared";
  parameter Real power_per_lpm(unit="W") = 10.79 "Power per L/min of product";
  parameter Real power_per_lpm_bar(unit="W") = -7.07 "Power per L/min and bar(g)";
  parameter Real tau_sensor_O2(unit="s") = 2 "O2 sensor time constant (as PSAUnit's)";
  output Real p_feed(unit="Pa", nominal=2e5, start=180000) "Feed manifold pressure, cycle mean";
  output Real y_O2(unit="1", start=0.93) "Delivered O2 fraction, cycle mean";
  output Real Q_product(unit="m3/s", nominal=3e-5) "Delivered flow (the flow controller holds the request)";
  output Real sensor_O2(unit="1", start=0.93) "O2 sensor reading (lagged)";
  output Real power(unit="W", nominal=200) "Compressor electrical power, cycle mean";
  Real y_ss(unit="1") "Purity the unit settles at for the present pressure and flow";
  Real tau_y(unit="s") "Purity time constant at the present flow";
protected
  constant Real bar = 1e5 "Pa per bar";
  constant Real lpm = 1/60000 "m3/s per L/min";
  Real g(unit="1") "Feed pressure, bar(g)";
  Real q(unit="1") "Flow request, L/min";
  Real q_pos(unit="1") "Flow request, smoothly kept above 0.3 L/min";
  Real z(unit="1") "Distance above the knee in knee widths";
initial equation
  der(p_feed) = 0;
  der(y_O2) = 0;
  der(sensor_O2) = 0;
equation
  g = (p_feed - p_ambient)/bar;
  q = Q_set/lpm;
  q_pos = 0.5*(q + 0.3 + sqrt((q - 0.3)^2 + 0.01));
  z = (q - (q_knee_0 + q_knee_per_bar*g + q_knee_per_bar2*g^2 + q_knee_per_scale*(cycle_scale - 1)))/knee_width;
  // softplus(z) = log(1 + exp(z)), written so that it never overflows
  y_ss = y_max_0 + y_max_per_bar*g + y_max_per_scale*(cycle_scale - 1) - slope_0*exp(-slope_decay*g)*knee_width*(0.5*(z + abs(z)) + log(1 + exp(-abs(z))))
    + y_O2_offset;
  tau_y = tau_y_ref*(2/q_pos)^tau_y_exponent;
  der(p_feed) = (p_set - p_feed)/tau_p;
  der(y_O2) = (y_ss - y_O2)/tau_y;
  der(sensor_O2) = (y_O2 - sensor_O2)/tau_sensor_O2;
  Q_product = Q_set;
  power = power_0 + power_per_bar*g + power_per_bar2*g^2 + (power_per_lpm + power_per_lpm_bar*g)*q
    + power_per_scale*(cycle_scale - 1);
  annotation(Documentation(info="<html>
<p>What the supervisory controller needs of the PSA unit and its compressor, averaged over the 7.5 s cycle: the
feed pressure follows its setpoint through the pressure loop (PID and compressor, first order with
<code>tau_p</code>); the delivered purity settles at a static map of feed pressure and flow,</p>
<pre>
  g = p_feed - p_ambient (bar),  q = Q_set (L/min),  s = cycle_scale
  y_ss = y_max_0 + y_max_per_bar g + y_max_per_scale (s - 1) - slope_0 exp(-slope_decay g) w softplus((q - q_knee)/w)
         + y_O2_offset
  q_knee = q_knee_0 + q_knee_per_bar g + q_knee_per_bar2 g^2 + q_knee_per_scale (s - 1)
</pre>
<p>(argon-limited purity at low flow; above a knee flow, which rises with the feed pressure, the purity falls with
a slope that falls with pressure), with first-order dynamics whose time constant shortens with the flow
(<code>tau_y = tau_y_ref (2 L/min / q)^tau_y_exponent</code>); the compressor power is a quadratic map of feed
pressure and flow. The PSA cycle-time scale <code>s</code> (longer steps above 1) moves the production capacity
(the knee flow), the low-flow purity and the power linearly in <code>s - 1</code>: longer cycles vent less feed
gas (less power) but let the nitrogen front further into the beds (a lower knee and purity). Every coefficient is fitted to the full <code>O2Twin.CoSim.PSAUnit</code> and
<code>O2Twin.CoSim.Compressor</code> FMUs with the pressure PID and the sequencer (random steps of setpoint and flow,
90 min simulated, after a 10 min warm-up; the cycle-time terms on another 60 min with the scale stepped in 0.7-1.3,
everything else held) by <code>scripts/mpc_identify.py</code>, which also reports the validation
errors on another 60 min sequence (docs/controllers.md, \"MPC\"). Outside the fitted range (0.5-1.3 bar(g), 0.5-5 L/min, scale 0.7-1.3, warm beds,
25 degC) the map is an extrapolation; <code>y_O2_offset</code> is the input an estimator uses to absorb what the
map misses (a cold start, a worn sieve).</p>
</html>"));
end LumpedConcentrator;
