within O2Twin.Components;
block TransportDelay "Dead time as a chain of n equal first-order stages (plug flow through a sampling line)"
  parameter Real T_dead(unit="s", min=0) = 0 "Dead time (mean delay of the chain); 0: none, the output is the input";
  parameter Integer n = 8 "Number of stages (the spread of the delay is T_dead/sqrt(n))";
  parameter Real y_start = 0 "Initial value of every stage";
  input Real u "Quantity at the inlet";
  output Real y "Quantity at the outlet, T_dead later";
  Real x[n](each start=y_start, each fixed=true) "Stage values";
protected
  parameter Real tau_stage(unit="s") = if T_dead > 0 then T_dead/n else 1
    "Stage time constant (1 s when off: the unused chain stays slow and costs the integrator nothing)";
equation
  der(x[1]) = (u - x[1])/tau_stage;
  for k in 2:n loop
    der(x[k]) = (x[k - 1] - x[k])/tau_stage;
  end for;
  y = if T_dead > 0 then x[n] else u;
  annotation(Documentation(info="<html>
<p>The exporter supports no <code>delay()</code> (FMI co-simulation has no history buffer for it), so a dead time is
the plug flow through a sampling line approximated by n stirred stages in series: dx_1/dt = (u - x_1)/tau,
dx_k/dt = (x_k-1 - x_k)/tau, tau = T_dead/n, y = x_n. Its mean delay (first moment of the step response,
integral of 1 - y) is exactly T_dead; the step response is the Erlang-n distribution, 10-90 % within about
0.58-1.47 T_dead for n = 8 (median 0.96 T_dead). With T_dead = 0 the output is the input.</p>
</html>"));
end TransportDelay;
