package Inheritance "extends and modifications, if-expressions, noEvent, initial equations"
  partial model FirstOrder "first-order lag"
    parameter Real T(unit = "s") = 1 "time constant";
    parameter Real gain = 1;
    input Real u(start = 1);
    output Real y(start = 0, fixed = true);
  equation
    T * der(y) = gain * u - y;
  end FirstOrder;

  model Lag "a lag with modified parameters and a saturated second stage"
    extends FirstOrder(T = 0.5, gain = 2);
    parameter Real limit = 1.5;
    Real z "saturated second stage";
    Real s(start = 0.3) "steady-state initialised";
    output Real sat;
  initial equation
    der(s) = 0;
  equation
    der(z) = (sat - z) / 0.2;
    sat = if noEvent(y > limit) then limit else y;
    der(s) = smooth(0, if y > 0 then y else 0) - 3 * s + 0.5 * sin(time);
  end Lag;
end Inheritance;
