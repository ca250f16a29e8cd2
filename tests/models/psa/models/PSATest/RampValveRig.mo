within PSATest;
model RampValveRig "Solenoid valve with an opening ramp between two fixed-pressure reservoirs, commanded open at t = 0"
  parameter Real ramp(unit="s") = 0.15;
  O2Twin.Components.Ambient side_a(p_amb=2e5);
  O2Twin.Components.Ambient side_b(p_amb=1e5);
  O2Twin.Components.SolenoidValve valve(d_orifice=3e-3, tau_open=0.02, t_ramp=ramp);
  input Real cmd;
  output Real opening;
equation
  connect(side_a.port, valve.port_a);
  connect(valve.port_b, side_b.port);
  valve.cmd = cmd;
  opening = valve.opening;
end RampValveRig;
