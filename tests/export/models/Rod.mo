model Rod "Heat conduction in a rod: arrays and for-loops"
  parameter Integer n = 8 "number of cells";
  parameter Real L(unit = "m") = 1 "length";
  parameter Real alpha(unit = "m2/s") = 0.01 "thermal diffusivity";
  parameter Real T_start(unit = "K") = 300 "initial temperature";
  input Real T_left(unit = "K", start = 400) "left boundary temperature";
  Real T[n](each unit = "K", each start = 300, each fixed = true) "cell temperatures";
  output Real T_right(unit = "K") "right end temperature";
  output Real T_mean(unit = "K") "mean temperature";
protected
  parameter Real dx = L / n;
equation
  der(T[1]) = alpha * (T_left - 2 * T[1] + T[2]) / dx ^ 2;
  for i in 2:n - 1 loop
    der(T[i]) = alpha * (T[i - 1] - 2 * T[i] + T[i + 1]) / dx ^ 2;
  end for;
  der(T[n]) = alpha * (T[n - 1] - T[n]) / dx ^ 2;
  T_right = T[n];
  T_mean = sum(T) / n;
end Rod;
