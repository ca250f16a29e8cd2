within O2Twin.Patient;
block GasExchange "Alveolar gas equation, lung O2 wash-in, V/Q mismatch and shunt, arterial O2 and Severinghaus saturation"
  input Real FiO2(unit="1") "Inspired O2 fraction (dry gas)";
  input Real alveolar_ventilation(unit="m3/s", start=7e-5) "Alveolar ventilation (BTPS)";
  input Real P_baro(unit="Pa", start=101325) "Barometric pressure";
  input Real VO2(unit="m3/s", start=4.2e-6) "O2 consumption (STPD)";
  input Real VCO2(unit="m3/s") "CO2 production (STPD)";
  input Real shunt_fraction(unit="1") "Right-to-left shunt as a fraction of cardiac output";
  input Real dPO2_VQ(unit="Pa") "Alveolar to end-capillary O2 partial pressure drop from V/Q mismatch";
  input Real FRC(unit="m3", start=2.5e-3) "Functional residual capacity (lung gas volume that is washed in)";
  input Real hemoglobin(unit="kg/m3", start=150) "Blood haemoglobin concentration (150 kg/m3 = 15 g/dL)";
  input Real cardiac_output(unit="m3/s", start=8.3e-5) "Cardiac output";
  parameter Real tau_blood(unit="s") = 10
    "Time constant of arterial blood O2 content (pulmonary to systemic arterial transit and mixing)";
  output Real PaCO2(unit="Pa") "Arterial (= alveolar) CO2 partial pressure";
  output Real PAO2(unit="Pa", start=13300) "Alveolar O2 partial pressure (washed in)";
  output Real PaO2(unit="Pa", start=12000) "Arterial O2 partial pressure";
  output Real SpO2(unit="1") "Arterial O2 saturation (Severinghaus)";
  Real R_resp(unit="1", start=0.8) "Respiratory exchange ratio VCO2/VO2";
  Real PAO2_eq(unit="Pa") "Alveolar O2 partial pressure from the alveolar gas equation (steady state)";
  Real tau_lung(unit="s", start=30) "Wash-in time constant FRC/V_A";
  Real P_cap(unit="Pa") "End-capillary O2 partial pressure of ventilated units";
  Real P_cap_mmHg(unit="1", start=95) "P_cap in mmHg (Severinghaus works in mmHg)";
  Real S_cap(unit="1") "End-capillary saturation";
  Real C_cap(unit="1") "End-capillary O2 content (m3 O2 STPD per m3 blood)";
  Real C_target(unit="1") "Arterial O2 content after mixing with shunted venous blood";
  Real PaO2_mmHg(unit="1", start=90) "PaO2 in mmHg, smoothly limited to >= 1";
  Real C_art(unit="1") "Arterial O2 content at the current PaO2";
  Real dC_dP(unit="1/Pa", start=1e-6) "Slope of the O2 content curve at PaO2";
protected
  constant Real p_std = 101325 "Pressure of standard gas volumes, Pa";
  constant Real T_std = 273.15 "Temperature of standard gas volumes, K";
  constant Real T_body = 310.15 "Body temperature, K";
  constant Real P_H2O = 6266.6 "Water vapour pressure at 37 degC (47 mmHg), Pa";
  constant Real mmHg = 133.322387415 "Pa per mmHg";
  constant Real hufner = 1.34e-3 "O2 bound per mass of haemoglobin (Huefner, clinical value), m3/kg";
  constant Real solubility = 3e-5 "Dissolved O2, m3 O2 per m3 blood per mmHg (0.003 mL/dL/mmHg)";
equation
  // CO2: alveolar ventilation equation (PACO2 = 0.863 VCO2/V_A in mmHg, mL/min and L/min); PaCO2 = PACO2
  PaCO2 = VCO2*p_std*(T_body/T_std)/alveolar_ventilation;
  R_resp = VCO2/VO2;
  // O2: simplified alveolar gas equation, then first-order wash-in of the lung gas volume
  PAO2_eq = FiO2*(P_baro - P_H2O) - PaCO2/R_resp;
  tau_lung = FRC/alveolar_ventilation;
  der(PAO2) = (PAO2_eq - PAO2)/tau_lung;
  // ventilated units: V/Q mismatch as an alveolar to end-capillary PO2 drop
  P_cap = 0.5*(PAO2 - dPO2_VQ + mmHg + sqrt((PAO2 - dPO2_VQ - mmHg)^2 + mmHg^2));
  P_cap_mmHg = P_cap/mmHg;
  S_cap = 1/(23400/(P_cap_mmHg^3 + 150*P_cap_mmHg) + 1);
  C_cap = hufner*hemoglobin*S_cap + solubility*P_cap_mmHg;
  // shunt: C_a = (1 - s) C_c + s C_v with C_v = C_a - VO2/Q  =>  C_a = C_c - s/(1 - s) VO2/Q
  C_target = C_cap - shunt_fraction/(1 - shunt_fraction)*VO2/cardiac_output;
  // arterial blood: content relaxes to C_target; PaO2 is the state (no inversion of the content curve needed)
  PaO2_mmHg = 0.5*(PaO2/mmHg + 1 + sqrt((PaO2/mmHg - 1)^2 + 1));
  C_art = hufner*hemoglobin/(23400/(PaO2_mmHg^3 + 150*PaO2_mmHg) + 1) + solubility*PaO2_mmHg;
  dC_dP = (hufner*hemoglobin*23400*(3*PaO2_mmHg^2 + 150)/(PaO2_mmHg^3 + 150*PaO2_mmHg + 23400)^2 + solubility)/mmHg;
  der(PaO2) = (C_target - C_art)/(dC_dP*tau_blood);
  SpO2 = 1/(23400/(PaO2_mmHg^3 + 150*PaO2_mmHg) + 1);
  annotation(Documentation(info="<html>
<h4>CO2 and alveolar O2</h4>
<pre>
  PaCO2 = VCO2 p_std (T_body/T_std) / V_A                 alveolar ventilation equation (= 0.863 VCO2/V_A)
  PAO2_eq = FiO2 (P_B - P_H2O) - PaCO2/R,  R = VCO2/VO2, P_H2O = 47 mmHg     alveolar gas equation
  der(PAO2) = (PAO2_eq - PAO2)/(FRC/V_A)                 wash-in of the lung gas volume
</pre>
<p>Room air at sea level with PaCO2 = 40 mmHg gives PAO2 = 99.4 mmHg (reference ~100 mmHg).</p>
<h4>Gas exchange</h4>
<p>Two-parameter model of oxygenation (Sapsford and Jones, Br. J. Anaesth. 75 (1995) 466; Kjaergaard et al.,
Intensive Care Med. 29 (2003) 727): ventilated units have an end-capillary PO2 lower than PAO2 by dPO2_VQ
(V/Q mismatch; responds to added O2), and a shunt fraction bypasses the lung (responds little to added O2):</p>
<pre>
  P_c = PAO2 - dPO2_VQ,   C(P) = 1.34 Hb S(P) + 0.003 P   (mL/dL, P in mmHg; here in SI, volume fractions)
  C_a = C(P_c) - s/(1 - s) VO2/Q_t                      (shunt mixing with C_v = C_a - VO2/Q_t)
</pre>
<p>Arterial content follows C_a with the time constant tau_blood: der(PaO2) = (C_a - C(PaO2))/(C'(PaO2) tau_blood),
so at steady state C(PaO2) = C_a exactly without inverting the content curve (no algebraic loop).</p>
<h4>Saturation</h4>
<p>Severinghaus (J. Appl. Physiol. 46 (1979) 599): S = 1/(23400/(P^3 + 150 P) + 1), P in mmHg; check points
40 -> 75.0 %, 60 -> 90.6 %, 80 -> 95.7 %, 100 -> 97.7 %. SpO2 (arterial) follows PaO2, so its physiological
dynamics are the lung wash-in (tau_lung, about 36 s healthy, 1 min in COPD) and tau_blood in series.</p>
</html>"));
end GasExchange;
