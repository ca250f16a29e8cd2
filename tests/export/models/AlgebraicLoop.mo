model AlgebraicLoop "A nonlinear algebraic loop: y solves y + y^3 = x + u"
  parameter Real k = 1.5 "decay rate";
  input Real u(start = 0.5) "forcing";
  Real x(start = 1, fixed = true) "state";
  Real y "loop variable";
  Real w "second loop variable";
  output Real out "output";
equation
  y + y ^ 3 + 0.1 * w = x + u;
  w = exp(-y) * y + sin(w) * 0.2;
  der(x) = -k * y;
  out = 2 * y + w;
end AlgebraicLoop;
