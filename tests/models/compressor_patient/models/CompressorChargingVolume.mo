model CompressorChargingVolume "Test: the compressor component in a composed model, charging a vented 1 L volume"
  O2Twin.Components.Compressor compressor(T_ambient=T);
  parameter Real V(unit="m3") = 1e-3 "Volume of the discharge manifold";
  parameter Real T(unit="K") = 293.15 "Gas and ambient temperature (isothermal volume)";
  parameter Real K_vent(unit="kg/(s.Pa)") = 1e-8 "Linear conductance of the vent to ambient";
  Real p(unit="Pa", start=101325, fixed=true) "Manifold pressure (a state: no algebraic loop with the compressor)";
  Real m_vent(unit="kg/s") "Vented mass flow";
equation
  compressor.duty = 1;
  compressor.speed_set = 0;
  compressor.p_discharge = p;
  m_vent = K_vent*(p - 101325);
  V/(287.05*T)*der(p) = compressor.m_flow - m_vent;
end CompressorChargingVolume;
