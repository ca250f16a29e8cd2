package LoopPair "Two units whose outputs feed through nonlinearly: split, they form an algebraic loop"
  model A "first-order lag whose output depends directly (nonlinearly) on its input"
    input Real u(start = 0);
    output Real y;
    Real x(start = 1, fixed = true);
  equation
    der(x) = -x + u;
    y = x + 0.5 * sin(u);
  end A;

  model B "second unit, also with direct feedthrough"
    input Real u(start = 0);
    output Real y;
    Real x(start = -0.5, fixed = true);
  equation
    der(x) = -2 * x + u;
    y = x - 0.4 * u;
  end B;

  model Monolithic "A and B connected in one model (the loop is solved inside the FMU)"
    output Real ya;
    output Real yb;
    Real xa(start = 1, fixed = true);
    Real xb(start = -0.5, fixed = true);
  equation
    der(xa) = -xa + yb;
    ya = xa + 0.5 * sin(yb);
    der(xb) = -2 * xb + ya;
    yb = xb - 0.4 * ya;
  end Monolithic;
end LoopPair;
