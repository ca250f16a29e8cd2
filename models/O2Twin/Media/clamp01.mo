within O2Twin.Media;
function clamp01 "Limit a command to 0..1"
  input Real x;
  output Real y;
algorithm
  y := if x < 0 then 0 else (if x > 1 then 1 else x);
end clamp01;
