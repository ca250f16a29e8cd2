within O2Twin.Media;
function airMoleFraction "Mole fraction of species i (1 N2, 2 O2, 3 Ar) in dry air with argon fraction y_Ar"
  input Real y_Ar(unit="1") "Argon mole fraction (0.00934 for dry air, 0 to remove argon)";
  input Integer i "Species index";
  output Real y(unit="1") "Mole fraction";
algorithm
  y := if i == 1 then (1 - y_Ar)*0.7808/0.9903 else (if i == 2 then (1 - y_Ar)*0.2095/0.9903 else y_Ar);
  annotation(Documentation(info="<html><p>y_N2 = (1 - y_Ar) 0.7808/0.9903, y_O2 = (1 - y_Ar) 0.2095/0.9903, y_Ar:
dry air (N2 78.08 %, O2 20.95 %, Ar 0.934 %) with CO2 and traces lumped into N2 and O2 so that the sum is 1.</p></html>"));
end airMoleFraction;
