model Tank "Nonlinear tank: inflow input, Torricelli outflow, level output"
  parameter Real A(unit = "m2") = 0.5 "cross-section area";
  parameter Real a_out(unit = "m2") = 0.01 "outlet orifice area";
  parameter Real g(unit = "m/s2") = 9.81 "gravity";
  input Real q_in(unit = "m3/s", start = 0.02) "volume inflow";
  output Real h(unit = "m", start = 0.1, fixed = true, min = 0) "level";
  output Real q_out(unit = "m3/s") "outflow";
equation
  A * der(h) = q_in - q_out;
  q_out = a_out * sqrt(2 * g * smooth(1, max(h, 0)));
  annotation(experiment(StopTime = 20, Tolerance = 1e-8));
end Tank;
