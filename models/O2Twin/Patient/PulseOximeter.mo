within O2Twin.Patient;
block PulseOximeter "Pulse oximeter reading: the arterial saturation delayed by finger circulation and signal averaging"
  input Real SpO2(unit="1") "Arterial O2 saturation";
  parameter Real tau_oximeter(unit="s") = 12
    "First-order lag: lung-to-finger circulation (about 5-10 s) and the averaging time of the device (4-16 s)";
  output Real sensor_SpO2(unit="1", start=0.97) "Displayed SpO2";
equation
  der(sensor_SpO2) = (SpO2 - sensor_SpO2)/tau_oximeter;
  annotation(Documentation(info="<html>
<p>der(sensor_SpO2) = (SpO2 - sensor_SpO2)/tau_oximeter. A finger probe sees a change of arterial saturation
after the lung-to-finger circulation time and smooths it over its averaging window; one first-order lag of 12 s
stands for both (the exporter supports no transport delay).</p>
</html>"));
end PulseOximeter;
