model Robertson "Robertson's stiff chemical kinetics (rate constants spanning 9 decades)"
  parameter Real k1 = 0.04;
  parameter Real k2 = 3e7;
  parameter Real k3 = 1e4;
  output Real y1(start = 1, fixed = true);
  output Real y2(start = 0, fixed = true, nominal = 1e-5);
  output Real y3(start = 0, fixed = true);
equation
  der(y1) = -k1 * y1 + k3 * y2 * y3;
  der(y2) = k1 * y1 - k3 * y2 * y3 - k2 * y2 ^ 2;
  der(y3) = k2 * y2 ^ 2;
  annotation(experiment(StopTime = 40, Tolerance = 1e-8));
end Robertson;
