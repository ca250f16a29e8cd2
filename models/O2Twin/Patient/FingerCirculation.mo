within O2Twin.Patient;
block FingerCirculation "Saturation at the pulse oximeter's probe: arterial SpO2 after the lung-to-finger circulation"
  input Real SpO2(unit="1") "Arterial O2 saturation leaving the lungs";
  parameter Real tau_circulation(unit="s") = 7
    "First-order stand-in for the lung-to-finger circulation delay (5-10 s at rest)";
  output Real sensor_SpO2(unit="1", start=0.97) "Saturation of the blood at the probe site";
equation
  der(sensor_SpO2) = (SpO2 - sensor_SpO2)/tau_circulation;
  annotation(Documentation(info="<html>
<p>der(sensor_SpO2) = (SpO2 - sensor_SpO2)/tau_circulation. Blood leaving the lungs reaches a finger probe after the
lung-to-finger circulation time, about 5-10 s at rest (longer with a low cardiac output or an ear/finger that is
cold; Hamber et al., J. Clin. Monit. 1999: finger probes respond 10-20 s later than ear probes to a desaturation).
One first-order lag of 7 s stands for that transport delay (the exporter supports no delay operator). The
oximeter device itself (its averaging window, noise, 1 % display steps, motion artefacts, dropouts and signal
quality) is a sensor block outside the physiology: controllers/sensors.py, PulseOximeter.</p>
</html>"));
end FingerCirculation;
