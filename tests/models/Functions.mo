package Functions "A package function called from a model"
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
end Functions;
