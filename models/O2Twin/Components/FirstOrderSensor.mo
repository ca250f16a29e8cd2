within O2Twin.Components;
block FirstOrderSensor "Sensor with a first-order lag: dy/dt = (u - y)/tau"
  parameter Real tau(unit="s") = 1 "Time constant";
  parameter Real y_start = 0 "Initial reading";
  input Real u "Measured quantity";
  output Real y(start=y_start, fixed=true) "Reading";
equation
  der(y) = (u - y)/tau;
  annotation(Documentation(info="<html><p>Lag of a real sensor. Time constants used in PSAUnit: ultrasonic O2 sensor
2 s (gas exchange in the sensing cell), pressure 0.02 s, flow 0.2 s, bed thermistor 5 s.</p></html>"));
end FirstOrderSensor;
