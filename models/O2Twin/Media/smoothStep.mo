within O2Twin.Media;
function smoothStep "C1 step from 0 (x <= 0) to 1 (x >= 1): 3x^2 - 2x^3 in between"
  input Real x;
  output Real y;
protected
  Real xc;
algorithm
  xc := if x < 0 then 0 else (if x > 1 then 1 else x);
  y := xc*xc*(3 - 2*xc);
end smoothStep;
