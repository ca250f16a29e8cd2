within O2Twin.Patient;
block Breathing "Breath-averaged spontaneous breathing: minute and alveolar ventilation, inspiratory and pause times"
  input Real respiratory_rate(unit="1/s", displayUnit="1/min", start=0.2) "Breathing frequency";
  input Real tidal_volume(unit="m3", start=0.5e-3) "Tidal volume (BTPS)";
  input Real dead_space(unit="m3") "Physiological dead space (anatomical + alveolar, BTPS)";
  parameter Real inspiratory_fraction(unit="1") = 1/3 "Inspiratory time over breath period (I:E = 1:2)";
  parameter Real pause_fraction(unit="1") = 0.3
    "Share of the expiration at the end with (almost) no exhaled flow, when the nasopharynx fills from the cannula";
  output Real minute_ventilation(unit="m3/s") "Expired minute ventilation (BTPS)";
  output Real alveolar_ventilation(unit="m3/s", start=7e-5) "Alveolar ventilation (BTPS)";
  output Real T_breath(unit="s", start=5) "Breath period";
  output Real T_inspiration(unit="s") "Inspiratory time";
  output Real T_pause(unit="s") "End-expiratory pause";
equation
  minute_ventilation = respiratory_rate*tidal_volume;
  alveolar_ventilation = respiratory_rate*(tidal_volume - dead_space);
  T_breath = 1/respiratory_rate;
  T_inspiration = inspiratory_fraction*T_breath;
  T_pause = pause_fraction*(T_breath - T_inspiration);
  annotation(Documentation(info="<html>
<p>Breathing is represented breath by breath in its averages (the co-simulation steps of the twin are longer than
a breath of interest for SpO2): V_E = f V_T, V_A = f (V_T - V_D), T_i = (T_i/T_tot) / f, end-expiratory pause
T_p = pause_fraction (T_tot - T_i). Normal values: f 12-20 /min, V_T about 7 mL/kg, V_D about 150 mL in health
and 0.4-0.6 V_T in COPD (West, Respiratory Physiology: The Essentials, 10th ed. 2016, ch. 2).</p>
</html>"));
end Breathing;
