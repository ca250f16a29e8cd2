within PSATest;
model BedRig "Sieve bed between two air reservoirs through orifices (air-saturated start)"
  parameter Real p_feed(unit="Pa") = 101325 "Pressure of the feed-side reservoir";
  O2Twin.Components.Ambient feedSide(p_amb=p_feed);
  O2Twin.Components.Ambient productSide(p_amb=101325);
  O2Twin.Components.Orifice inlet(d_orifice=2e-3);
  O2Twin.Components.Orifice outlet(d_orifice=1e-6);
  O2Twin.Components.SieveBed bed(N=5, D=0.05, L=0.22);
  output Real q_N2(unit="mol/kg");
  output Real q_O2(unit="mol/kg");
  output Real T_mean(unit="K");
  output Real p_bed(unit="Pa");
  output Real N_N2(unit="mol");
  output Real N_O2(unit="mol");
equation
  connect(feedSide.port, inlet.port_a);
  connect(inlet.port_b, bed.port_a);
  connect(bed.port_b, outlet.port_a);
  connect(outlet.port_b, productSide.port);
  q_N2 = bed.q[3, 1];
  q_O2 = bed.q[3, 2];
  T_mean = bed.T_mean;
  p_bed = bed.p_b;
  N_N2 = bed.inventory[1];
  N_O2 = bed.inventory[2];
end BedRig;
