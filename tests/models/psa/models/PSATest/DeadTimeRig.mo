within PSATest;
model DeadTimeRig "Transport delay driven by an input step"
  parameter Real dead_time(unit="s") = 2;
  O2Twin.Components.TransportDelay delay(T_dead=dead_time, y_start=0);
  input Real u;
  output Real y;
equation
  delay.u = u;
  y = delay.y;
end DeadTimeRig;
