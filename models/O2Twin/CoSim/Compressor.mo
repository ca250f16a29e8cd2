within O2Twin.CoSim;
model Compressor "Co-simulation unit: the compressor (FMU O2Twin_CoSim_Compressor)"
  extends O2Twin.Components.Compressor;
  annotation(
    experiment(StartTime=0, StopTime=600, Tolerance=1e-6),
    Documentation(info="<html>
<p>FMU of the compressor component <code>O2Twin.Components.Compressor</code>, with its interface unchanged:
inputs <code>duty</code> (PWM, 0..1) and <code>p_discharge</code> (Pa abs, the PSA unit's feed manifold pressure);
outputs <code>m_flow</code> (kg/s), <code>T_discharge</code>, <code>T_head</code> (K), <code>speed</code> (rad/s),
<code>power</code> (W), <code>deflection</code> (m), <code>cycles</code>. Parameters <code>T_ambient</code> and
<code>wear_factor</code> set the scenario. <code>m_flow</code> depends directly on <code>p_discharge</code>; the
PSA unit's manifold pressure is a state, so the coupling has no algebraic loop (docs/interfaces.md).</p>
</html>"));
end Compressor;
