within O2Twin.Patient;
block NasalCannula "Inspired O2 fraction from a continuous-flow nasal cannula (low-flow system, room-air entrainment)"
  input Real Q_O2(unit="m3/s") "Cannula flow (standard: 0 degC, 101325 Pa)";
  input Real y_O2_supply(unit="1") "O2 mole fraction of the supplied gas";
  input Real tidal_volume(unit="m3", start=0.5e-3) "Tidal volume (BTPS)";
  input Real T_inspiration(unit="s") "Inspiratory time";
  input Real T_pause(unit="s") "End-expiratory pause";
  input Real P_baro(unit="Pa", start=101325) "Barometric pressure";
  parameter Real capture_efficiency(unit="1") = 0.45
    "Share of the cannula gas offered at the nares (during inspiration and into the reservoir) that reaches the trachea (fitted)";
  parameter Real V_reservoir(unit="m3") = 50e-6 "Anatomical reservoir (nose, nasopharynx) filled during the pause";
  parameter Real y_O2_room(unit="1") = 0.2095 "O2 fraction of room air (dry)";
  parameter Real T_body(unit="K") = 310.15 "Body temperature";
  output Real FiO2(unit="1") "Inspired O2 fraction (dry gas)";
  output Real supply_share(unit="1") "Share of each breath that is supplied gas";
protected
  constant Real R = 8.314462618 "Molar gas constant, J/(mol.K)";
  constant Real p_std = 101325 "Pressure of standard flows, Pa";
  constant Real T_std = 273.15 "Temperature of standard flows, K";
  constant Real P_H2O = 6266.6 "Water vapour pressure at 37 degC (47 mmHg), Pa";
public
  Real Q_pos(unit="m3/s") "Cannula flow, smoothly limited to >= 0";
  Real n_tidal(unit="mol", start=0.018) "Dry gas moles in one tidal volume";
  Real n_inspiration(unit="mol") "Cannula gas delivered during inspiration";
  Real n_pause(unit="mol") "Cannula gas delivered during the end-expiratory pause";
  Real n_reservoir_max(unit="mol", start=1.8e-3) "Reservoir capacity";
  Real n_reservoir(unit="mol") "Cannula gas held in the reservoir at the start of inspiration";
  Real share_raw(unit="1") "Supplied share before limiting to 1";
equation
  Q_pos = 0.5*(Q_O2 + sqrt(Q_O2^2 + 1e-16));
  n_tidal = tidal_volume*(P_baro - P_H2O)/(R*T_body);
  n_inspiration = Q_pos*T_inspiration*p_std/(R*T_std);
  n_pause = Q_pos*T_pause*p_std/(R*T_std);
  n_reservoir_max = V_reservoir*(P_baro - P_H2O)/(R*T_body);
  n_reservoir = 0.5*(n_pause + n_reservoir_max - sqrt((n_pause - n_reservoir_max)^2 + (0.02*n_reservoir_max)^2));
  share_raw = capture_efficiency*(n_inspiration + n_reservoir)/n_tidal;
  supply_share = 0.5*(share_raw + 1 - sqrt((share_raw - 1)^2 + 1e-6));
  FiO2 = y_O2_room + (y_O2_supply - y_O2_room)*supply_share;
  annotation(Documentation(info="<html>
<p>A nasal cannula is a low-flow system: the patient inhales a tidal volume V_T, of which only the cannula gas
reaching the airway is enriched; the rest is room air. Per breath, in moles of dry gas:</p>
<pre>
  n_tidal = V_T (P_B - P_H2O)/(R T_body)
  n_supply = capture_efficiency (Q T_i + min(Q T_p, n_reservoir_max)) p_std/(R T_std)
  FiO2 = y_room + (y_supply - y_room) min(n_supply/n_tidal, 1)
</pre>
<p>(the classic anatomical-reservoir estimate of Shapiro, Clinical Application of Respiratory Care, with a capture
efficiency; smooth min). The capture efficiency 0.45 is fitted so that a resting healthy adult (12 /min,
0.5 L) gains 3.8 % FiO2 per L/min of pure O2 at 1-2 L/min (rule of thumb: +3-4 %/(L/min), 24 % at 1 L/min),
and the slope falls as the reservoir fills (FiO2 0.39 at 6 L/min, within the 0.26-0.54 measured at rest by
Wettstein, Shelledy and Peters, Respir. Care 50 (2005) 604). Faster breathing (larger V_E) lowers FiO2 at the same
flow, as measured. Product purity below 100 % scales the gain with (y_supply - y_room). At altitude the same
standard flow is a larger share of a breath (fewer moles per tidal volume), so FiO2 from the cannula rises.</p>
</html>"));
end NasalCannula;
