within PSATest;
model DispersionRig "Argon tracer through an inert bed (no adsorption): air flows into a bed that starts argon-free"
  parameter Real dispersion(unit="m2/s") = 0;
  O2Twin.Components.Ambient feedSide(p_amb=1.05e5);
  O2Twin.Components.Ambient productSide(p_amb=101325);
  O2Twin.Components.Orifice inlet(d_orifice=1e-3);
  O2Twin.Components.Orifice outlet(d_orifice=1e-3);
  O2Twin.Components.SieveBed bed(N=10, D=0.05, L=0.22, D_ax=dispersion, k1={0, 0, 0}, y_Ar_start=0,
    p_start=1.03e5);
  output Real y_Ar_out(unit="1");
  output Real n_out(unit="mol/s");
  output Real n_gas(unit="mol");
equation
  connect(feedSide.port, inlet.port_a);
  connect(inlet.port_b, bed.port_a);
  connect(bed.port_b, outlet.port_a);
  connect(outlet.port_b, productSide.port);
  y_Ar_out = bed.y_ext[bed.N + 1, 3];
  n_out = outlet.n_flow;
  n_gas = bed.inventory[1] + bed.inventory[2] + bed.inventory[3];
end DispersionRig;
