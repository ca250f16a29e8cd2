within O2Twin.Components;
model Ambient "Atmosphere: fixed pressure, temperature and air composition (sink of vent and product)"
  parameter Real p_amb(unit="Pa") = 101325 "Ambient pressure";
  parameter Real T_amb(unit="K") = 298.15 "Ambient temperature";
  parameter Real y_Ar(unit="1") = 0.00934 "Argon mole fraction of the air";
  O2Twin.Interfaces.GasPort port;
equation
  port.c[1] = p_amb/(O2Twin.Media.R*T_amb)*(1 - y_Ar)*O2Twin.Media.y_N2_dry/(O2Twin.Media.y_N2_dry + O2Twin.Media.y_O2_dry);
  port.c[2] = p_amb/(O2Twin.Media.R*T_amb)*(1 - y_Ar)*O2Twin.Media.y_O2_dry/(O2Twin.Media.y_N2_dry + O2Twin.Media.y_O2_dry);
  port.c[3] = p_amb/(O2Twin.Media.R*T_amb)*y_Ar;
  port.T = T_amb;
  annotation(Documentation(info="<html><p>Infinite reservoir of air (composition as in Media). Flows into it are
the vent and product flows; they are counted by the enclosing unit.</p></html>"));
end Ambient;
