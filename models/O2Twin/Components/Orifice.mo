within O2Twin.Components;
model Orifice "Fixed orifice (purge orifice between the bed product ends)"
  extends O2Twin.Components.PartialFlowElement;
  parameter Real d_orifice(unit="m") = 0.6e-3 "Orifice diameter";
  parameter Real Cd(unit="1") = 0.7 "Discharge coefficient";
equation
  n_flow = O2Twin.Media.orificeMolarFlow(p_a, p_b, port_a.T, port_b.T, M_a, M_b, Cd*3.14159265358979*d_orifice^2/4);
  annotation(Documentation(info="<html>
<p>Bidirectional compressible orifice (Media.orificeMolarFlow). As the purge orifice it lets a small part of the
product of the bed on adsorption flow back through the bed being regenerated (Skarstrom purge).</p>
</html>"));
end Orifice;
