within O2Twin.Interfaces;
connector GasPort "Gas port of a volume: species concentrations and temperature; molar and enthalpy flows"
  Real c[3](each unit="mol/m3", each nominal=40) "Species concentrations in the volume at the port (N2, O2, Ar)";
  Real T(unit="K", nominal=300) "Gas temperature in the volume at the port";
  flow Real n_flow[3](each unit="mol/s") "Species molar flows into the component";
  flow Real H_flow(unit="W") "Enthalpy flow into the component (cp_gas*T of the upstream gas, per mole)";
  annotation(Documentation(info="<html>
<p>Balanced connector (4 potentials c[3], T; 4 flows n_flow[3], H_flow). Pressure is p = R T sum(c) (ideal gas).
Staggered-grid convention: <b>volumes</b> (sieve bed cells, tanks, manifold, ambient) set c and T; <b>flow
elements</b> (valves, orifices, check valves, flow control) compute the flows from the pressures on both sides and
take composition and temperature from the upstream side (upwind). A volume port is connected only to flow
elements, never to another volume, so every flow is explicit in the states and no algebraic loop arises.</p>
</html>"));
end GasPort;
