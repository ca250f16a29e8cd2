within O2Twin.Components;
model FeedManifold "Feed manifold volume between compressor and feed valves (pressure is a state)"
  parameter Real V(unit="m3") = 0.3e-3 "Gas volume of manifold, hoses and heat-exchanger tube";
  parameter Real y_Ar(unit="1") = 0.00934 "Argon mole fraction of the feed air";
  parameter Real p_start(unit="Pa") = 101325 "Initial pressure (filled with air)";
  parameter Real T_start(unit="K") = 298.15 "Initial temperature";
  parameter Real tau_T(unit="s") = 0.5 "Thermal time constant of the manifold gas and tube wall";
  input Real m_flow_in(unit="kg/s") "Air mass flow from the compressor";
  input Real T_in(unit="K") "Temperature of the air arriving from the cooling coil (Aftercooler)";
  O2Twin.Interfaces.GasPort port "To the feed valves";
  Real y_feed[3](each unit="1") "Feed air mole fractions";
  Real n_flow_in[3](each unit="mol/s") "Species molar inflow from the compressor";
  Real n[3](each unit="mol", each nominal=0.01, each start=0.01) "Moles of each species in the manifold";
  Real p(unit="Pa", nominal=1e5) "Manifold pressure";
  Real T(unit="K", nominal=300, start=298.15) "Manifold gas temperature";
initial equation
  T = T_start;
  for i in 1:3 loop
    n[i] = O2Twin.Media.airMoleFraction(y_Ar, i)*p_start*V/(O2Twin.Media.R*T_start);
  end for;
equation
  for i in 1:3 loop
    y_feed[i] = O2Twin.Media.airMoleFraction(y_Ar, i);
    n_flow_in[i] = noEvent(max(m_flow_in, 0))*y_feed[i]/(O2Twin.Media.M[1]*y_feed[1] + O2Twin.Media.M[2]*y_feed[2]
      + O2Twin.Media.M[3]*y_feed[3]);
    der(n[i]) = n_flow_in[i] + port.n_flow[i];
    port.c[i] = n[i]/V;
  end for;
  tau_T*der(T) = T_in - T;
  port.T = T;
  p = O2Twin.Media.R*T*(n[1] + n[2] + n[3])/V;
  annotation(Documentation(info="<html>
<p>Capacitance with a lumped thermal lag: dn_i/dt = n_in,i - n_out,i, tau_T dT/dt = T_in - T, p = R T sum(n)/V.
The gas temperature follows the air arriving from the compressor's cooling coil with the time constant tau_T of the
gas and the tube wall (0.5 s; a fitting value, short against the 7 s cycle). Because p is computed from states only,
the compressor (whose delivery and outlet temperature depend on p) and the PSA unit are coupled through capacitances,
not an algebraic loop (docs/interfaces.md); with T = T_in instead, p would depend directly on the compressor's
outlet temperature, which depends on p. The volume is that of the manifold, hoses
and the cooling coil of a 5 L/min unit (a few tenths of a litre).</p>
</html>"));
end FeedManifold;
