within O2Twin.Components;
model ProductTank "Product (buffer) tank, isothermal at ambient temperature"
  parameter Real V(unit="m3") = 1.0e-3 "Tank volume";
  parameter Real T_amb(unit="K") = 298.15 "Tank wall (= gas) temperature";
  parameter Real p_start(unit="Pa") = 101325 "Initial pressure";
  parameter Real y_Ar_start(unit="1") = 0.00934 "Argon fraction of the air filling the tank initially";
  O2Twin.Interfaces.GasPort port;
  Real n[3](each unit="mol", each nominal=0.05, each start=0.01) "Moles of each species in the tank";
  Real p(unit="Pa", nominal=1e5) "Tank pressure";
  Real y[3](each unit="1") "Mole fractions";
initial equation
  for i in 1:3 loop
    n[i] = O2Twin.Media.airMoleFraction(y_Ar_start, i)*p_start*V/(O2Twin.Media.R*T_amb);
  end for;
equation
  for i in 1:3 loop
    der(n[i]) = port.n_flow[i];
    port.c[i] = n[i]/V;
    y[i] = n[i]/(n[1] + n[2] + n[3]);
  end for;
  port.T = T_amb;
  p = O2Twin.Media.R*T_amb*(n[1] + n[2] + n[3])/V;
  annotation(Documentation(info="<html>
<p>Well-mixed isothermal volume: dn_i/dt = sum of inflows; p = R T sum(n)/V. A small metal tank exchanges heat
with its surroundings faster than the tank pressure swings (seconds), so it is held at T_amb; the enthalpy flow
into it is taken up by the wall. Typical 5 L/min units have a 0.5-1.5 L product tank.</p>
</html>"));
end ProductTank;
