package DrainLoop "A tank drained by a pump under level control, split into a plant FMU and a controller FMU"
  model DrainTank "Level h; the orifice outflow k sqrt(h) has no solution below h = 0 (the integration fails there)"
    parameter Real k(unit = "m/s") = 0.5 "Orifice coefficient";
    input Real q_pump(unit = "m/s", start = 0) "Pump flow, negative drains";
    output Real level(unit = "m");
    Real h(unit = "m", start = 1, fixed = true) "Level";
  equation
    der(h) = q_pump - k * sqrt(h);
    level = h;
  end DrainTank;

  model LevelController "Proportional level control through a first-order pump"
    parameter Real kp(unit = "1/s") = 1 "Gain";
    parameter Real h_ref(unit = "m") = 0.2 "Level setpoint";
    parameter Real T(unit = "s") = 0.1 "Pump time constant";
    input Real level(unit = "m", start = 1);
    output Real q_pump(unit = "m/s");
    Real q(unit = "m/s", start = -0.8, fixed = true) "Pump flow";
  equation
    der(q) = (kp * (h_ref - level) - q) / T;
    q_pump = q;
  end LevelController;
end DrainLoop;
