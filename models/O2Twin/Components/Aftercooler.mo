within O2Twin.Components;
block Aftercooler "Fan-cooled coil between compressor and feed manifold: effectiveness-NTU cooling of the compressed air"
  parameter Real UA(unit="W/K", min=0) = 3.0
    "Thermal conductance of the coil (about 2 m of finned 1/4 inch copper tube in the cabinet fan's air stream)";
  parameter Real T_amb(unit="K") = 298.15 "Cooling air (room) temperature";
  parameter Real cp_air(unit="J/(kg.K)") = 1005 "Specific isobaric heat capacity of air";
  parameter Real m_flow_small(unit="kg/s") = 1e-6 "Regularisation of the heat capacity rate near zero flow";
  input Real m_flow(unit="kg/s") "Air mass flow through the coil (from the compressor)";
  input Real T_in(unit="K") "Air temperature at the coil inlet (compressor discharge)";
  output Real T_out(unit="K") "Air temperature at the coil outlet (into the feed manifold)";
  output Real Q_rejected(unit="W") "Heat given to the room air";
  Real NTU(unit="1") "Number of transfer units UA/(m cp)";
  Real effectiveness(unit="1") "(T_in - T_out)/(T_in - T_amb)";
equation
  NTU = UA/(cp_air*(0.5*(m_flow + sqrt(m_flow^2 + m_flow_small^2))));
  effectiveness = 1 - exp(-NTU);
  T_out = T_in - effectiveness*(T_in - T_amb);
  Q_rejected = 0.5*(m_flow + sqrt(m_flow^2 + m_flow_small^2))*cp_air*(T_in - T_out);
  annotation(Documentation(info="<html>
<p>Real concentrators cool the compressed air in a coil (heat exchanger) in the cabinet fan's air stream before it
reaches the valves and the sieve beds: hot feed air would warm the beds, and a warm zeolite holds less nitrogen
(the isotherm's affinity falls as exp(E/T)), so purity drops. The cooling air stream is much larger than the
compressed-air stream (its heat capacity rate is about 100 times larger), so the coil is a heat exchanger with
C_min/C_max near 0 and, whatever its flow arrangement (Incropera and DeWitt, Fundamentals of Heat and Mass
Transfer, 6th ed., section 11.4):</p>
<pre>
  NTU = UA/(m cp),   effectiveness = 1 - exp(-NTU),   T_out = T_in - effectiveness (T_in - T_amb)
</pre>
<p>UA = 3 W/K is an engineering estimate for about 2 m of 1/4 inch (6.35 mm) copper tube with fins in the fan
stream: inside, turbulent flow at 1.3 g/s (Re about 2e4, Dittus-Boelter, h about 300 W/(m2 K)) gives about
9 W/K; outside, forced convection at 60 W/(m2 K) over the bare tube (2.4 W/K), doubled by the fins; in series
about 3 W/K. At the rated feed (1.3 g/s) NTU = 2.3 and the air leaves 10 % of its inlet excess above the room
(e.g. 90 degC in, 31 degC out in a 25 degC room); at lower flow it leaves closer to the room temperature. The
coil's own heat capacity is neglected (the manifold's 0.5 s thermal lag follows it).</p>
</html>"));
end Aftercooler;
