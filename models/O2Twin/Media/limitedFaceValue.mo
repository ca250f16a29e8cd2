within O2Twin.Media;
function limitedFaceValue "Second-order upwind (MUSCL) face value with the smooth van Albada limiter"
  input Real y_uu "Value two cells upwind of the face";
  input Real y_u "Value in the upwind cell";
  input Real y_d "Value in the downwind cell";
  output Real y_face "Reconstructed value at the face";
protected
  Real a;
  Real b;
algorithm
  a := y_u - y_uu;
  b := y_d - y_u;
  y_face := y_u + 0.5*a*b*(a + b)/(a*a + b*b + 1e-12);
  annotation(Documentation(info="<html>
<p>y_face = y_u + phi(r) (y_u - y_uu)/2 with r = (y_d - y_u)/(y_u - y_uu) and the van Albada limiter
phi(r) = (r^2 + r)/(r^2 + 1), written without division by zero as y_u + a b (a + b)/(2 (a^2 + b^2)),
a = y_u - y_uu, b = y_d - y_u (van Albada, van Leer and Roberts, Astron. Astrophys. 108 (1982) 76).
Second-order accurate in smooth regions, first order at extrema; differentiable everywhere, which the
implicit integrator needs. Used for the mole fractions at the cell faces of the sieve bed: it cuts the
numerical dispersion of first-order upwinding, so 10 cells resolve the N2 front about as well as 30
first-order cells.</p>
</html>"));
end limitedFaceValue;
