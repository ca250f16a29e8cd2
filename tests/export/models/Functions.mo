package Functions "A package function called from a model; package constants"
  constant Real c0 = 0.1 "a package constant";
  constant Real w[3] = {1.0, 2.0, 0.5 * 2 + c0} "a package constant array (an expression of another)";

  function sq "square"
    input Real x;
    output Real y;
  algorithm
    y := x * x;
  end sq;

  function cubeSum "x^3 + c*x"
    input Real x;
    input Real c;
    output Real y;
  algorithm
    y := x * x * x + c * x;
  end cubeSum;

  model Decay "der(x) = -k * sq(x)"
    parameter Real k = 0.7;
    Real x(start = 2, fixed = true);
    output Real y;
  equation
    der(x) = -k * sq(x) - 0.1 * cubeSum(x, 0.5);
    y = Functions.sq(x) + 1;
  end Decay;
  model Weighted "package constants by full name, indexed by a for-loop variable"
    Real x[3](each start = 1, each fixed = true);
    output Real total;
  equation
    for i in 1:3 loop
      der(x[i]) = -Functions.w[i] * x[i] + Functions.c0;
    end for;
    total = sum(x) * w[2];
  end Weighted;
end Functions;
