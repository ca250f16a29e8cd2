package CoupledOscillators "Two masses coupled by a spring-damper, split for co-simulation and monolithic"
  model Mass1 "mass 1 on a spring to the wall; force input, position/velocity outputs (no direct feedthrough)"
    parameter Real m1(unit = "kg") = 1;
    parameter Real k1(unit = "N/m") = 10;
    parameter Real d1(unit = "N.s/m") = 0.1;
    input Real F(unit = "N", start = 0) "coupling force acting on mass 1";
    output Real x1(unit = "m", start = 0.1, fixed = true);
    output Real v1(unit = "m/s", start = 0, fixed = true);
  equation
    der(x1) = v1;
    m1 * der(v1) = -k1 * x1 - d1 * v1 + F;
  end Mass1;

  model Mass2 "mass 2 and the coupling spring-damper; positions in, force out (direct feedthrough)"
    parameter Real m2(unit = "kg") = 1;
    parameter Real k2(unit = "N/m") = 20;
    parameter Real kc(unit = "N/m") = 100 "coupling spring";
    parameter Real dc(unit = "N.s/m") = 1 "coupling damper";
    input Real x1(unit = "m", start = 0.1);
    input Real v1(unit = "m/s", start = 0);
    output Real F(unit = "N") "coupling force on mass 1";
    output Real x2(unit = "m", start = 0, fixed = true);
    Real v2(unit = "m/s", start = 0, fixed = true);
  equation
    F = kc * (x2 - x1) + dc * (v2 - v1);
    der(x2) = v2;
    m2 * der(v2) = -k2 * x2 - F;
  end Mass2;

  model Monolithic "both masses in one model"
    parameter Real m1(unit = "kg") = 1;
    parameter Real k1(unit = "N/m") = 10;
    parameter Real d1(unit = "N.s/m") = 0.1;
    parameter Real m2(unit = "kg") = 1;
    parameter Real k2(unit = "N/m") = 20;
    parameter Real kc(unit = "N/m") = 100;
    parameter Real dc(unit = "N.s/m") = 1;
    output Real x1(unit = "m", start = 0.1, fixed = true);
    output Real v1(unit = "m/s", start = 0, fixed = true);
    output Real x2(unit = "m", start = 0, fixed = true);
    Real v2(unit = "m/s", start = 0, fixed = true);
    output Real F(unit = "N");
  equation
    F = kc * (x2 - x1) + dc * (v2 - v1);
    der(x1) = v1;
    m1 * der(v1) = -k1 * x1 - d1 * v1 + F;
    der(x2) = v2;
    m2 * der(v2) = -k2 * x2 - F;
  end Monolithic;
end CoupledOscillators;
