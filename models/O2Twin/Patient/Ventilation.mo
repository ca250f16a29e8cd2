within O2Twin.Patient;
block Ventilation "Ventilatory response: alveolar ventilation follows CO2 production and the breathing drive, up to the ventilatory capacity"
  input Real VCO2(unit="m3/s", start=3.3e-6) "CO2 production (STPD)";
  input Real drive(unit="1", start=1) "Breathing drive relative to wakefulness (1 awake; < 1 sleep hypoventilation)";
  input Real dead_space(unit="m3", start=0.15e-3) "Physiological dead space";
  parameter Real VCO2_rest(unit="m3/s") = 3.3e-6 "CO2 production at rest";
  parameter Real V_A_rest(unit="m3/s") = 4.2e-3/60 "Alveolar ventilation at rest, awake";
  parameter Real V_T_rest(unit="m3") = 0.5e-3 "Tidal volume at rest, awake";
  parameter Real V_E_max(unit="m3/s") = 120e-3/60
    "Ventilatory capacity (about 35-40 x FEV1: 120 L/min healthy, 35 L/min severe COPD)";
  parameter Real depth_share(unit="1") = 0.4
    "Share of a ventilation change taken by the tidal volume (in log terms; the rest by the rate)";
  parameter Real V_E_smooth(unit="m3/s") = 1e-3/60 "Smoothing of the capacity limit (1 L/min)";
  output Real minute_ventilation(unit="m3/s", start=1e-4) "Minute ventilation (BTPS)";
  output Real tidal_volume(unit="m3", start=0.5e-3) "Tidal volume";
  output Real respiratory_rate(unit="1/s", displayUnit="1/min", start=0.2) "Breathing frequency";
  Real V_A_demand(unit="m3/s", start=7e-5) "Alveolar ventilation the chemoreflexes ask for";
  Real V_E_demand(unit="m3/s", start=1e-4) "Minute ventilation that delivers it at the present breathing pattern";
equation
  V_A_demand = V_A_rest*max(VCO2, 0.1*VCO2_rest)/VCO2_rest*max(drive, 0.2);
  tidal_volume = V_T_rest*(V_A_demand/V_A_rest)^depth_share;
  V_E_demand = V_A_demand*tidal_volume/max(tidal_volume - dead_space, 0.2*tidal_volume);
  minute_ventilation = 0.5*(V_E_demand + V_E_max - sqrt((V_E_demand - V_E_max)^2 + V_E_smooth^2));
  respiratory_rate = minute_ventilation/tidal_volume;
  annotation(Documentation(info="<html>
<p>Awake, the chemoreflexes hold PaCO2: alveolar ventilation rises in proportion to CO2 production from rest to
moderate exercise (Wasserman et al., Principles of Exercise Testing and Interpretation, 5th ed. 2012, ch. 2),
V_A,demand = V_A,rest (VCO2/VCO2,rest) drive. The breathing drive falls in sleep (about 0.95 in NREM, 0.85 in REM
sleep: the hypoventilation behind nocturnal desaturation in COPD, Douglas et al., Lancet 1979; McNicholas,
Eur. Respir. Rev. 2017). Depth and rate share the change, V_T = V_T,rest (V_A/V_A,rest)^depth_share (0.4:
patients with airflow limitation raise the rate more than the depth), and the minute ventilation that delivers
V_A over the dead space is V_E = V_A V_T/(V_T - V_D). It cannot exceed the ventilatory capacity V_E,max (about
35-40 x FEV1: healthy ~120 L/min, severe COPD ~35 L/min); a smooth minimum with a 1 L/min corner joins the two,
f = V_E/V_T. A COPD patient who walks briskly reaches the limit and PaCO2 rises.</p>
</html>"));
end Ventilation;
