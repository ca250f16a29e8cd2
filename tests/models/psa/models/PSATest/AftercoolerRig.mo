within PSATest;
model AftercoolerRig "Cooling coil at a fixed air flow and inlet temperature"
  parameter Real m_flow(unit="kg/s") = 1.3e-3;
  parameter Real T_in(unit="K") = 363.15;
  O2Twin.Components.Aftercooler cooler(T_amb=298.15);
  output Real T_out(unit="K");
  output Real Q_rejected(unit="W");
equation
  cooler.m_flow = m_flow;
  cooler.T_in = T_in;
  T_out = cooler.T_out;
  Q_rejected = cooler.Q_rejected;
end AftercoolerRig;
