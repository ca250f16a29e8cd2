within O2Twin.Media;
function langmuirAffinity "Temperature-dependent Langmuir coefficient k*exp(E/T)"
  input Real k "Pre-exponential factor (mol/(kg.Pa) for the Henry term, 1/Pa for the affinity term)";
  input Real E(unit="K") "Temperature coefficient (heat of adsorption over R)";
  input Real T(unit="K") "Temperature";
  output Real b "k*exp(E/T)";
algorithm
  b := k*exp(E/T);
  annotation(Documentation(info="<html>
<p>Extended Langmuir isotherm of Yang et al. for Li-LSX (review in Int. J. Chem. Eng. 2023, Table 1):
q_i = k1_i exp(k2_i/T) p_i / (1 + sum_j k3_j exp(k4_j/T) p_j), q in mol/kg, p in Pa.
This function returns one of the two temperature-dependent factors.</p>
</html>"));
end langmuirAffinity;
