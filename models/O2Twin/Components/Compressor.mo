within O2Twin.Components;
model Compressor "Oil-free twin-head piston/diaphragm compressor with DC motor, PWM drive, lumped thermal model and diaphragm load"
  // ---- interface (the same names as the FMU O2Twin.CoSim.Compressor, docs/interfaces.md) ----
  input Real duty(unit="1", min=0, max=1, start=0) "Motor PWM duty (0..1); values outside are clamped";
  input Real p_discharge(unit="Pa", min=0, nominal=2e5, start=101325) "Absolute discharge pressure (PSAUnit.p_feed)";
  input Real speed_set(unit="rad/s", min=0, start=0)
    "Motor speed to follow when use_speed_input (a speed-controlled drive, or a measured speed replayed); else unused";
  output Real m_flow(unit="kg/s", min=0) "Delivered air mass flow";
  output Real T_discharge(unit="K") "Air temperature at the outlet";
  output Real speed(unit="rad/s", start=0, fixed=true) "Motor/crank angular speed";
  output Real power(unit="W", min=0) "Electrical power drawn from the supply";
  output Real T_head(unit="K", start=T_ambient, fixed=true) "Head/motor lumped temperature (watchdog trips at 85 degC)";
  output Real deflection(unit="m") "Diaphragm peak deflection at the discharge pressure";
  output Real cycles(unit="1", start=0, fixed=true) "Diaphragm load cycles since start (fatigue counter)";

  // ---- ambient and condition ----
  parameter Real T_ambient(unit="K") = 293.15 "Ambient (suction and cooling air) temperature";
  parameter Real p_ambient(unit="Pa") = 101325 "Ambient (suction and crankcase) pressure";
  parameter Real wear_factor(unit="1", min=0, max=1) = 1
    "1 = new; lower = worn valves/diaphragm: that fraction of the compressed air is delivered, the rest leaks back and heats the head";

  // ---- displacement and volumetric efficiency ----
  parameter Real V_disp(unit="m3") = 2.64e-5 "Swept volume per crank revolution (both heads)";
  parameter Real eta_v0(unit="1") = 0.92 "Volumetric efficiency at pressure ratio 1 (suction throttling and heating)";
  parameter Real c_clearance(unit="1") = 0.115 "Effective clearance ratio (clearance volume/swept volume, with valve leakage lumped in)";
  parameter Real n_reexp(unit="1") = 1.3 "Polytropic exponent of the re-expansion of the clearance gas";

  // ---- compression work and gas ----
  parameter Real eta_is(unit="1") = 0.45 "Isentropic efficiency of compression (indicated, incl. valve losses)";
  parameter Real R_air(unit="J/(kg.K)") = 287.05 "Specific gas constant of dry air";
  parameter Real cp_air(unit="J/(kg.K)") = 1005 "Specific isobaric heat capacity of air";
  parameter Real kappa(unit="1") = 1.4 "Isentropic exponent of air";

  // ---- DC motor and PWM drive ----
  parameter Real V_supply(unit="V") = 48 "DC bus voltage of the PWM drive";
  parameter Real k_motor(unit="V.s/rad") = 0.143 "Motor constant (back-emf = torque constant)";
  parameter Real R_winding(unit="Ohm") = 0.5 "Winding (armature) resistance";
  parameter Real J_rotor(unit="kg.m2") = 2e-3 "Inertia of rotor, crank and counterweight";
  parameter Real tau_coulomb(unit="N.m") = 0.05 "Coulomb friction torque of bearings and seals";
  parameter Real b_viscous(unit="N.m.s/rad") = 1e-4 "Viscous friction and fan torque coefficient";
  parameter Real P_standby(unit="W") = 15 "Drive electronics and control board consumption";
  parameter Real P_fan(unit="W", min=0) = 0
    "Cabinet fan and other auxiliaries drawn from the same supply while the unit is on (0: not counted)";
  parameter Boolean use_speed_input = false
    "true: the speed follows the input speed_set through the drive's speed loop (duty unused); false: the PWM duty drives the motor";
  parameter Real tau_speed(unit="s", min=1e-3) = 0.2 "Time constant of the drive's speed loop (use_speed_input)";
  parameter Real pulsation(unit="1", min=0, max=1) = 0
    "Relative amplitude of the delivered flow's ripple at twice the crank frequency (two heads; 0: mean flow only)";

  // ---- thermal ----
  parameter Real C_head(unit="J/K") = 3000 "Heat capacity of head, cylinder and motor (lumped)";
  parameter Real G_natural(unit="W/K") = 1.0 "Heat conductance to ambient with the motor at rest (natural convection)";
  parameter Real G_fan(unit="W/K") = 4.0 "Extra conductance from the shaft fan at reference speed (proportional to speed)";
  parameter Real speed_ref(unit="rad/s") = 314 "Reference speed of G_fan";
  parameter Real eps_head(unit="1") = 0.8 "Heat-exchange effectiveness between discharge air and head";

  // ---- diaphragm (clamped circular plate, large deflection) ----
  parameter Real a_diaphragm(unit="m") = 0.012 "Free (unsupported) radius of the diaphragm";
  parameter Real h_diaphragm(unit="m") = 1.2e-3 "Diaphragm thickness";
  parameter Real E_diaphragm(unit="Pa") = 60e6 "Effective Young's modulus (fabric-reinforced elastomer)";
  parameter Real nu_diaphragm(unit="1") = 0.3 "Poisson ratio (the membrane coefficient k_membrane belongs to 0.3)";
  parameter Real k_membrane(unit="1") = 0.488 "Membrane stiffening coefficient, clamped immovable edge, nu = 0.3";

  // ---- regularisation ----
  parameter Real speed_eps(unit="rad/s") = 1 "Speed below which friction and compression torque fade out smoothly";
  parameter Real i_eps(unit="A") = 1e-3 "Smoothing width of the one-quadrant drive current";

  Real duty_c(unit="1") "Duty clamped to 0..1";
  Real pr(unit="1", start=2) "Pressure ratio discharge/ambient (floored at 0.1)";
  Real pr_w(unit="1", start=2) "Pressure ratio used for the compression work (>= 1, smooth)";
  Real eta_v(unit="1", start=0.8) "Volumetric efficiency";
  Real rho_suction(unit="kg/m3", start=1.2) "Density of the suction air";
  Real m_flow_per_speed(unit="kg/rad") "Compressed mass per radian of crank angle (before leakage)";
  Real m_flow_compressed(unit="kg/s") "Air compressed in the cylinders (delivered + leaked back)";
  Real w_is(unit="J/kg") "Isentropic specific work from ambient to discharge pressure";
  Real T_adiabatic(unit="K", start=450) "Gas temperature after compression without head cooling";
  Real tau_compression(unit="N.m") "Load torque from the compression work";
  Real tau_friction(unit="N.m") "Friction torque";
  Real tau_motor(unit="N.m") "Electromagnetic torque";
  Real current(unit="A") "Winding current (one-quadrant drive, no regeneration)";
  Real current_required(unit="A") "Current the speed loop needs for the torque of the speed trajectory (use_speed_input)";
  Real P_compression(unit="W") "Shaft power spent on compression";
  Real P_friction(unit="W") "Friction power";
  Real P_copper(unit="W") "Resistive loss in the winding";
  Real Q_head(unit="W") "Heat into the head/motor lump";
  Real G_cooling(unit="W/K", start=5) "Conductance head -> ambient";
  Real speed_fade(unit="1") "Smooth 0..1 factor, 1 above speed_eps";
  Real r_plate(unit="1") "Linear-plate deflection over thickness: q a^4/(64 D h)";
  Real s_cubic(unit="1") "Cardano: r_plate/(2 k_membrane), half the constant term of the depressed cubic";
protected
  parameter Real D_plate(unit="N.m") = E_diaphragm*h_diaphragm^3/(12*(1 - nu_diaphragm^2)) "Flexural rigidity";
  parameter Real c_cubic(unit="1") = (1/(3*k_membrane))^3 "Cardano: (p/3)^3 of the depressed cubic";
  constant Real pi = 3.14159265358979;
equation
  duty_c = min(max(duty, 0), 1);
  pr = 0.5*(p_discharge + sqrt(p_discharge^2 + 1e6))/p_ambient;
  pr_w = 1 + 0.5*((pr - 1) + sqrt((pr - 1)^2 + 1e-4));

  // Flow: displacement x speed x volumetric efficiency (clearance re-expansion), times wear
  eta_v = 0.5*(eta_v0*(1 - c_clearance*(pr^(1/n_reexp) - 1)) + sqrt((eta_v0*(1 - c_clearance*(pr^(1/n_reexp) - 1)))^2 + 1e-6));
  rho_suction = p_ambient/(R_air*T_ambient);
  m_flow_per_speed = rho_suction*V_disp*eta_v/(2*pi);
  m_flow_compressed = m_flow_per_speed*speed;
  m_flow = wear_factor*m_flow_compressed*(1 - pulsation*cos(4*pi*cycles));

  // Compression work and temperatures
  w_is = cp_air*T_ambient*(pr_w^((kappa - 1)/kappa) - 1);
  T_adiabatic = T_ambient + w_is/(eta_is*cp_air);
  T_discharge = T_adiabatic - eps_head*(T_adiabatic - T_head);

  // Motor: quasi-static winding (L/R << mechanical time constant), one-quadrant PWM drive
  speed_fade = speed/sqrt(speed^2 + speed_eps^2);
  current_required = (J_rotor*(speed_set - speed)/tau_speed + tau_compression + tau_friction)/k_motor;
  current = if use_speed_input then 0.5*(current_required + sqrt(current_required^2 + i_eps^2))
    else 0.5*((duty_c*V_supply - k_motor*speed)/R_winding + sqrt(((duty_c*V_supply - k_motor*speed)/R_winding)^2 + i_eps^2));
  tau_motor = k_motor*current;
  tau_compression = m_flow_per_speed*w_is/eta_is*speed_fade;
  tau_friction = tau_coulomb*speed_fade + b_viscous*speed;
  J_rotor*der(speed) = tau_motor - tau_compression - tau_friction;

  // Power
  P_compression = tau_compression*speed;
  P_friction = tau_friction*speed;
  P_copper = R_winding*current^2;
  power = (if use_speed_input then k_motor*speed*current + R_winding*current^2 else V_supply*duty_c*current)
    + P_standby + P_fan;

  // Lumped thermal model: compression heat not carried away by the delivered air, friction, copper loss
  Q_head = P_compression - m_flow*cp_air*(T_discharge - T_ambient) + P_friction + P_copper;
  G_cooling = G_natural + G_fan*0.5*(speed + sqrt(speed^2 + speed_eps^2))/speed_ref;
  C_head*der(T_head) = Q_head - G_cooling*(T_head - T_ambient);

  // Diaphragm: clamped circular plate under the overpressure, w/h + k (w/h)^3 = q a^4/(64 D h), Cardano root
  r_plate = (p_discharge - p_ambient)*a_diaphragm^4/(64*D_plate*h_diaphragm);
  s_cubic = r_plate/(2*k_membrane);
  // (d + s)^(1/3) - (d - s)^(1/3) with d = sqrt(s^2 + c), written with d - s = c/(d + s): d + s > 0 for every s
  deflection = h_diaphragm*((sqrt(s_cubic^2 + c_cubic) + s_cubic)^(1/3) - c_cubic^(1/3)/(sqrt(s_cubic^2 + c_cubic) + s_cubic)^(1/3));

  // Fatigue: one load cycle per crank revolution
  der(cycles) = speed/(2*pi);
  annotation(Documentation(info="<html>
<p>Oil-free compressor of a 5 L/min class concentrator: two heads on one crank (piston with PTFE ring or diaphragm),
driven by a brushed/BLDC DC motor from a PWM stage. Inputs: PWM <code>duty</code> and absolute
<code>p_discharge</code>; the delivered flow depends directly on <code>p_discharge</code> (direct feedthrough);
the feed manifold pressure is a state of the PSA unit, so there is no algebraic loop.</p>
<h4>Flow</h4>
<pre>
  pr     = p_discharge / p_ambient
  eta_v  = eta_v0 (1 - c (pr^(1/n) - 1))                      clearance re-expansion (n = 1.3)
  m_flow = wear_factor * rho_amb * V_disp * omega/(2 pi) * eta_v
</pre>
<p>Fitted to the published curve shape of an open compressor model (hpeuscher/oxygen-concentrator-model, MIT):
Q = (n - 300)/7500 (75 + 65 (1 - dp/7 bar)) L/min, i.e. at fixed speed Q(7 bar(g))/Q(0 bar(g)) = 0.54:
c = 0.115 gives 0.55 (the residual difference is the curvature of pr^(1/n)). Sized (V_disp) for about 60 standard L/min at 2.5 bar abs and 3000 rpm, the feed of a
5 L/min unit at 30-40 % O2 recovery.</p>
<h4>Motor and load</h4>
<pre>
  i     = max(0, (duty V_supply - k omega)/R)                  one-quadrant drive, L/R neglected
  J der(omega) = k i - tau_comp - tau_c - b omega
  tau_comp = (m_compressed/omega) w_is/eta_is                  w_is = cp T_amb (pr^((kappa-1)/kappa) - 1)
  power = V_supply duty i + P_standby                           (= k omega i + R i^2 + P_standby)
</pre>
<h4>Speed as an input, pulsation, auxiliaries</h4>
<p><b>use_speed_input</b> = true replaces the PWM stage by a speed-controlled drive (BLDC units run a speed loop; a
calibration replays a measured speed): the drive supplies the current the speed trajectory
d omega/dt = (speed_set - omega)/tau_speed needs, i = max(0, (J (speed_set - omega)/tau_speed + tau_comp + tau_c
+ b omega)/k) (smooth), and draws power = k omega i + R i^2 + P_standby + P_fan (the supply voltage limit is not
enforced: a replayed speed was reached by the real motor). At a steady speed this is the same torque balance and
power as in duty mode at the duty that gives that speed (checked in tests/models/psa/test_psa_parts.py).</p>
<p><b>pulsation</b>: each head delivers during its discharge stroke, so two heads on one crank deliver a ripple at
twice the crank frequency: m_flow = m_mean (1 - a cos(2 theta)), theta = 2 pi cycles (the crank angle). The
rectified sine of two ideal heads 180 degrees apart has a first harmonic a = 2/3; the manifold's hoses and a reed
valve's damping make it smaller. The mean over a revolution is unchanged. At 2000-3000 rpm the ripple is at
70-100 Hz: it needs integrator steps of a few ms, so it belongs in compressor or plant studies (Plant.Concentrator,
or this FMU with a small communication step), not in co-simulation at a 50 ms step, where sampling would alias it.</p>
<p><b>P_fan</b>: the cabinet fan (5-15 W in 5 L/min units) and other auxiliaries in the electrical power balance;
P_standby (15 W) is the drive electronics and control board.</p>
<h4>Heat</h4>
<pre>
  T_ad = T_amb + w_is/(eta_is cp);   T_discharge = T_ad - eps (T_ad - T_head)
  C der(T_head) = P_comp - m_flow cp (T_discharge - T_amb) + P_friction + R i^2 - (G_nat + G_fan omega/omega_ref)(T_head - T_amb)
</pre>
<p>Gas compressed but leaked back (wear_factor &lt; 1) still costs its work, which ends up as heat in the head:
a worn compressor delivers less and runs hotter. The 85 degC trip is reached at 40 degC ambient, full duty and
high discharge pressure (about 3.5 bar abs), not in normal operation at 20-25 degC.</p>
<h4>Diaphragm</h4>
<p>Clamped circular plate with immovable edge under the overpressure q = p_discharge - p_ambient, large-deflection
(energy method, Timoshenko and Woinowsky-Krieger, Theory of Plates and Shells, 2nd ed. 1959, section 96):
w/h + 0.488 (w/h)^3 = q a^4/(64 D h), D = E h^3/(12 (1 - nu^2)), solved in closed form (Cardano).
One load cycle per crank revolution: der(cycles) = omega/(2 pi).</p>
<p>Parameter values are engineering estimates for this class of compressor (no manufacturer data used) except the
curve shape above; docs/physics.md lists them and the validation.</p>
</html>"));
end Compressor;
