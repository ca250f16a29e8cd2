within O2Twin;
package Media "Air composition, gas properties and adsorption isotherms"
  constant Real R(unit="J/(mol.K)") = 8.314462618 "Molar gas constant (CODATA 2018)";
  constant Real p_std(unit="Pa") = 101325 "Pressure of standard flows (0 degC, 1 atm)";
  constant Real T_std(unit="K") = 273.15 "Temperature of standard flows";
  constant Real M[3](each unit="kg/mol") = {0.0280134, 0.0319988, 0.039948} "Molar masses N2, O2, Ar";
  constant Real y_N2_dry(unit="1") = 0.7808 "N2 mole fraction of dry air";
  constant Real y_O2_dry(unit="1") = 0.2095 "O2 mole fraction of dry air";
  constant Real y_Ar_dry(unit="1") = 0.00934 "Ar mole fraction of dry air";
  constant Real cp_gas(unit="J/(mol.K)") = 29.1 "Molar isobaric heat capacity of air at 300 K";
  constant Real gamma(unit="1") = 1.4 "Isentropic exponent of air";
  constant Real mu_gas(unit="Pa.s") = 1.85e-5 "Dynamic viscosity of air at 300 K";
  annotation(Documentation(info="<html>
<p>Gas data and adsorption functions. Species order everywhere in O2Twin: <b>1 = N2, 2 = O2, 3 = Ar</b>.
Ideal gas throughout (p &lt; 4 bar: the compressibility factor of air is within 0.3 % of 1 at 300 K).</p>
<p>Feed air composition for an argon fraction y_Ar (dry air: N2 78.08 %, O2 20.95 %, Ar 0.934 %):
y_N2 = (1 - y_Ar) 0.7808/0.9903, y_O2 = (1 - y_Ar) 0.2095/0.9903, so the three sum to 1 (CO2 and traces are
lumped into N2 and O2 in their ratio). With y_Ar = 0.00934 a perfect N2 removal gives at most
y_O2/(y_O2 + y_Ar) = 95.7 % O2 (the argon limit; Johns, Rochford and Streeton, Thorax 40 (1985) 806).</p>
<p>Sources: CODATA 2018 (R), IUPAC atomic weights (M), air property tables at 300 K (cp, gamma, mu).</p>
</html>"));
end Media;
