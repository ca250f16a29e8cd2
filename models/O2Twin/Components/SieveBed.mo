within O2Twin.Components;
model SieveBed "Li-LSX zeolite column: 1-D finite volumes, extended Langmuir, LDF, Ergun, energy balance"
  parameter Integer N = 10 "Number of axial cells";
  parameter Real D(unit="m") = 0.05 "Inner diameter";
  parameter Real L(unit="m") = 0.22 "Packed length";
  parameter Real eps_b(unit="1") = 0.36 "Interparticle (bed) voidage";
  parameter Real eps_p(unit="1") = 0.35 "Macropore voidage of the particles";
  parameter Real d_p(unit="m") = 0.6e-3 "Particle diameter";
  parameter Real rho_p(unit="kg/m3") = 1150 "Particle density";
  parameter Real cp_s(unit="J/(kg.K)") = 1000 "Heat capacity of the adsorbent";
  parameter Real m_wall(unit="kg") = 0.25 "Mass of the (aluminium) column wall, thermally lumped with the bed";
  parameter Real cp_wall(unit="J/(kg.K)") = 900 "Heat capacity of the wall";
  parameter Real h_out(unit="W/(m2.K)") = 12 "Heat transfer coefficient wall to ambient (cabinet fan)";
  parameter Real T_amb(unit="K") = 298.15 "Ambient temperature";
  parameter Real k_ldf_N2(unit="1/s") = 12 "LDF mass-transfer coefficient of N2 (fitting parameter)";
  parameter Real k_ldf_O2(unit="1/s") = 20 "LDF mass-transfer coefficient of O2 and Ar (fitting parameter)";
  parameter Real D_ax(unit="m2/s", min=0) = 0
    "Axial dispersion coefficient of the gas in the bed voids (0: only the scheme's numerical dispersion)";
  parameter Real k1[3](each unit="mol/(kg.Pa)") = {9.86e-9, 7.87e-9, 7.87e-9} "Isotherm Henry pre-factor (Yang)";
  parameter Real k2[3](each unit="K") = {2010.9, 1541.2, 1541.2} "Isotherm Henry temperature coefficient (Yang)";
  parameter Real k3[3](each unit="1/Pa") = {1.67e-10, 6.79e-10, 6.79e-10} "Isotherm affinity pre-factor (Yang)";
  parameter Real k4[3](each unit="K") = {2250, 1968.2, 1968.2} "Isotherm affinity temperature coefficient (Yang)";
  parameter Real dH[3](each unit="J/mol") = {22.6e3, 13.0e3, 13.0e3} "Isosteric heats of adsorption (released)";
  parameter Real p_start(unit="Pa") = 101325 "Initial pressure (air-saturated bed)";
  parameter Real T_start(unit="K") = 298.15 "Initial temperature";
  parameter Real y_Ar_start(unit="1") = 0.00934 "Argon fraction of the air filling the bed initially";
  final parameter Real A(unit="m2") = 3.14159265358979*D^2/4 "Cross-section";
  final parameter Real dz(unit="m") = L/N "Cell length";
  final parameter Real Vc(unit="m3") = A*dz "Cell volume";
  final parameter Real rho_b(unit="kg/m3") = rho_p*(1 - eps_b) "Bed density (adsorbent mass per bed volume)";
  final parameter Real eps_t(unit="1") = eps_b + (1 - eps_b)*eps_p "Total gas voidage";
  final parameter Real a_ergun(unit="Pa.s/m2") = 150*O2Twin.Media.mu_gas*(1 - eps_b)^2/(eps_b^3*d_p^2) "Ergun viscous coefficient";
  final parameter Real b_ergun(unit="1/m") = 1.75*(1 - eps_b)/(eps_b^3*d_p) "Ergun inertial coefficient (times density)";
  final parameter Real hA_cell(unit="W/K") = h_out*3.14159265358979*(D + 0.004)*dz "Wall heat loss conductance per cell";
  final parameter Real C_cell(unit="J/K") = rho_b*Vc*cp_s + m_wall*cp_wall/N "Solid + wall heat capacity per cell";
  final parameter Real m_ads(unit="kg") = rho_b*A*L "Adsorbent mass";
  final parameter Real den_start(unit="1") = 1
    + O2Twin.Media.langmuirAffinity(k3[1], k4[1], T_start)*p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 1)
    + O2Twin.Media.langmuirAffinity(k3[2], k4[2], T_start)*p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 2)
    + O2Twin.Media.langmuirAffinity(k3[3], k4[3], T_start)*p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 3)
    "Isotherm denominator of the initial air-saturated state";
  O2Twin.Interfaces.GasPort port_a "Feed end";
  O2Twin.Interfaces.GasPort port_b "Product end";
  Real c[N, 3](each unit="mol/m3", each nominal=40) "Gas-phase species concentrations";
  Real q[N, 3](each unit="mol/kg", each nominal=0.5) "Adsorbed amounts";
  Real T[N](each unit="K", each nominal=300) "Cell temperatures (gas, solid and wall in equilibrium)";
  Real ctot[N](each unit="mol/m3") "Total gas concentration";
  Real p[N](each unit="Pa", each nominal=1e5) "Cell pressures";
  Real den[N](each unit="1") "Extended Langmuir denominator 1 + sum_k b_k p_k";
  Real qstar[N, 3](each unit="mol/kg") "Equilibrium loadings (extended Langmuir)";
  Real r[N, 3](each unit="mol/(kg.s)") "Adsorption rates (LDF)";
  Real F[N + 1, 3](each unit="mol/s") "Species flows across cell faces, positive towards the product end";
  Real Ft[N + 1](each unit="mol/s") "Total molar flows across cell faces";
  Real u_s[N + 1](each unit="m/s") "Superficial velocities at the inner faces (Ergun)";
  Real y_ext[N + 2, 3](each unit="1") "Cell mole fractions with a ghost cell at each end";
  Real y_pos[N + 1, 3](each unit="1") "Face mole fractions for flow towards the product end (MUSCL, van Albada)";
  Real y_neg[N + 1, 3](each unit="1") "Face mole fractions for flow towards the feed end";
  Real Q_left[N](each unit="W") "Convective heat into a cell through its feed-side face";
  Real Q_right[N](each unit="W") "Convective heat into a cell through its product-side face";
  Real p_a(unit="Pa") "Pressure at the feed end";
  Real p_b(unit="Pa") "Pressure at the product end";
  Real T_mean(unit="K") "Mean bed temperature";
  Real y_O2_out(unit="1") "O2 mole fraction at the product end";
  Real inventory[3](each unit="mol") "Moles held in the bed (gas + adsorbed)";
protected
  Real cum_inventory[N, 3](each unit="mol") "Running sum of the cell inventories from the feed end";
  Real cum_T[N](each unit="K") "Running sum of the cell temperatures";
initial equation
  for j in 1:N loop
    c[j, 1] = p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 1)/(O2Twin.Media.R*T_start);
    c[j, 2] = p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 2)/(O2Twin.Media.R*T_start);
    c[j, 3] = p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 3)/(O2Twin.Media.R*T_start);
    q[j, 1] = O2Twin.Media.langmuirAffinity(k1[1], k2[1], T_start)*p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 1)/den_start;
    q[j, 2] = O2Twin.Media.langmuirAffinity(k1[2], k2[2], T_start)*p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 2)/den_start;
    q[j, 3] = O2Twin.Media.langmuirAffinity(k1[3], k2[3], T_start)*p_start*O2Twin.Media.airMoleFraction(y_Ar_start, 3)/den_start;
    T[j] = T_start;
  end for;
equation
  for j in 1:N loop
    ctot[j] = c[j, 1] + c[j, 2] + c[j, 3];
    p[j] = O2Twin.Media.R*T[j]*ctot[j];
    den[j] = 1 + O2Twin.Media.langmuirAffinity(k3[1], k4[1], T[j])*O2Twin.Media.R*T[j]*c[j, 1]
      + O2Twin.Media.langmuirAffinity(k3[2], k4[2], T[j])*O2Twin.Media.R*T[j]*c[j, 2]
      + O2Twin.Media.langmuirAffinity(k3[3], k4[3], T[j])*O2Twin.Media.R*T[j]*c[j, 3];
    qstar[j, 1] = O2Twin.Media.langmuirAffinity(k1[1], k2[1], T[j])*O2Twin.Media.R*T[j]*c[j, 1]/den[j];
    qstar[j, 2] = O2Twin.Media.langmuirAffinity(k1[2], k2[2], T[j])*O2Twin.Media.R*T[j]*c[j, 2]/den[j];
    qstar[j, 3] = O2Twin.Media.langmuirAffinity(k1[3], k2[3], T[j])*O2Twin.Media.R*T[j]*c[j, 3]/den[j];
    r[j, 1] = k_ldf_N2*(qstar[j, 1] - q[j, 1]);
    r[j, 2] = k_ldf_O2*(qstar[j, 2] - q[j, 2]);
    r[j, 3] = k_ldf_O2*(qstar[j, 3] - q[j, 3]);
    der(q[j, 1]) = r[j, 1];
    der(q[j, 2]) = r[j, 2];
    der(q[j, 3]) = r[j, 3];
    eps_t*Vc*der(c[j, 1]) = F[j, 1] - F[j + 1, 1] - rho_b*Vc*r[j, 1];
    eps_t*Vc*der(c[j, 2]) = F[j, 2] - F[j + 1, 2] - rho_b*Vc*r[j, 2];
    eps_t*Vc*der(c[j, 3]) = F[j, 3] - F[j + 1, 3] - rho_b*Vc*r[j, 3];
    C_cell*der(T[j]) = Q_left[j] + Q_right[j] + rho_b*Vc*(dH[1]*r[j, 1] + dH[2]*r[j, 2] + dH[3]*r[j, 3])
      - hA_cell*(T[j] - T_amb);
  end for;
  // ports: the end faces
  for i in 1:3 loop
    F[1, i] = port_a.n_flow[i];
    F[N + 1, i] = -port_b.n_flow[i];
    port_a.c[i] = c[1, i];
    port_b.c[i] = c[N, i];
  end for;
  port_a.T = T[1];
  port_b.T = T[N];
  Ft[1] = F[1, 1] + F[1, 2] + F[1, 3];
  Ft[N + 1] = F[N + 1, 1] + F[N + 1, 2] + F[N + 1, 3];
  u_s[1] = Ft[1]/(A*ctot[1]);
  u_s[N + 1] = Ft[N + 1]/(A*ctot[N]);
  Q_left[1] = port_a.H_flow - Ft[1]*O2Twin.Media.cp_gas*T[1];
  Q_right[N] = port_b.H_flow + Ft[N + 1]*O2Twin.Media.cp_gas*T[N];
  // mole fractions with one ghost cell at each end (zero gradient: first order at the bed ends)
  for j in 1:N loop
    y_ext[j + 1, 1] = c[j, 1]/ctot[j];
    y_ext[j + 1, 2] = c[j, 2]/ctot[j];
    y_ext[j + 1, 3] = c[j, 3]/ctot[j];
  end for;
  y_ext[1, 1] = y_ext[2, 1];
  y_ext[1, 2] = y_ext[2, 2];
  y_ext[1, 3] = y_ext[2, 3];
  y_ext[N + 2, 1] = y_ext[N + 1, 1];
  y_ext[N + 2, 2] = y_ext[N + 1, 2];
  y_ext[N + 2, 3] = y_ext[N + 1, 3];
  for i in 1:3 loop
    // the end faces are the ports (composition from the connected flow element); these entries are unused
    y_pos[1, i] = y_ext[2, i];
    y_neg[1, i] = y_ext[2, i];
    y_pos[N + 1, i] = y_ext[N + 1, i];
    y_neg[N + 1, i] = y_ext[N + 1, i];
  end for;
  // inner faces: Ergun momentum balance solved explicitly for the superficial velocity, second-order upwind (limited) composition
  for k in 2:N loop
    u_s[k] = 2*(p[k - 1] - p[k])/dz/(a_ergun + sqrt(a_ergun^2 + 4*b_ergun*(p[k - 1] + p[k])/2*0.0289
      /(O2Twin.Media.R*(T[k - 1] + T[k])/2)*noEvent(abs(p[k - 1] - p[k]))/dz));
    Ft[k] = u_s[k]*A*(ctot[k - 1] + ctot[k])/2;
    y_pos[k, 1] = O2Twin.Media.limitedFaceValue(y_ext[k - 1, 1], y_ext[k, 1], y_ext[k + 1, 1]);
    y_pos[k, 2] = O2Twin.Media.limitedFaceValue(y_ext[k - 1, 2], y_ext[k, 2], y_ext[k + 1, 2]);
    y_pos[k, 3] = O2Twin.Media.limitedFaceValue(y_ext[k - 1, 3], y_ext[k, 3], y_ext[k + 1, 3]);
    y_neg[k, 1] = O2Twin.Media.limitedFaceValue(y_ext[k + 2, 1], y_ext[k + 1, 1], y_ext[k, 1]);
    y_neg[k, 2] = O2Twin.Media.limitedFaceValue(y_ext[k + 2, 2], y_ext[k + 1, 2], y_ext[k, 2]);
    y_neg[k, 3] = O2Twin.Media.limitedFaceValue(y_ext[k + 2, 3], y_ext[k + 1, 3], y_ext[k, 3]);
    F[k, 1] = Ft[k]*noEvent(if Ft[k] > 0 then y_pos[k, 1]/(y_pos[k, 1] + y_pos[k, 2] + y_pos[k, 3])
      else y_neg[k, 1]/(y_neg[k, 1] + y_neg[k, 2] + y_neg[k, 3]))
      - eps_b*A*D_ax*(ctot[k - 1] + ctot[k])/2*(y_ext[k + 1, 1] - y_ext[k, 1])/dz;
    F[k, 2] = Ft[k]*noEvent(if Ft[k] > 0 then y_pos[k, 2]/(y_pos[k, 1] + y_pos[k, 2] + y_pos[k, 3])
      else y_neg[k, 2]/(y_neg[k, 1] + y_neg[k, 2] + y_neg[k, 3]))
      - eps_b*A*D_ax*(ctot[k - 1] + ctot[k])/2*(y_ext[k + 1, 2] - y_ext[k, 2])/dz;
    F[k, 3] = Ft[k]*noEvent(if Ft[k] > 0 then y_pos[k, 3]/(y_pos[k, 1] + y_pos[k, 2] + y_pos[k, 3])
      else y_neg[k, 3]/(y_neg[k, 1] + y_neg[k, 2] + y_neg[k, 3]))
      - eps_b*A*D_ax*(ctot[k - 1] + ctot[k])/2*(y_ext[k + 1, 3] - y_ext[k, 3])/dz;
    Q_left[k] = noEvent(max(Ft[k], 0))*O2Twin.Media.cp_gas*(T[k - 1] - T[k]);
    Q_right[k - 1] = noEvent(max(-Ft[k], 0))*O2Twin.Media.cp_gas*(T[k] - T[k - 1]);
  end for;
  p_a = p[1];
  p_b = p[N];
  cum_T[1] = T[1];
  for j in 2:N loop
    cum_T[j] = cum_T[j - 1] + T[j];
  end for;
  T_mean = cum_T[N]/N;
  y_O2_out = c[N, 2]/ctot[N];
  cum_inventory[1, 1] = Vc*(eps_t*c[1, 1] + rho_b*q[1, 1]);
  cum_inventory[1, 2] = Vc*(eps_t*c[1, 2] + rho_b*q[1, 2]);
  cum_inventory[1, 3] = Vc*(eps_t*c[1, 3] + rho_b*q[1, 3]);
  for j in 2:N loop
    cum_inventory[j, 1] = cum_inventory[j - 1, 1] + Vc*(eps_t*c[j, 1] + rho_b*q[j, 1]);
    cum_inventory[j, 2] = cum_inventory[j - 1, 2] + Vc*(eps_t*c[j, 2] + rho_b*q[j, 2]);
    cum_inventory[j, 3] = cum_inventory[j - 1, 3] + Vc*(eps_t*c[j, 3] + rho_b*q[j, 3]);
  end for;
  for i in 1:3 loop
    inventory[i] = cum_inventory[N, i];
  end for;
  annotation(Documentation(info="<html>
<p>One adsorber of a Skarstrom PSA cycle, discretised into N finite-volume cells along its axis (cell length
dz = L/N). States per cell: gas concentrations c_i (i = N2, O2, Ar), adsorbed amounts q_i, temperature T
(7 states per cell).</p>
<h4>Equations (cell j, species i)</h4>
<pre>
 gas:         eps_t V_c dc_i/dt = F_i(j-1/2) - F_i(j+1/2) - rho_b V_c r_i
 adsorbed:    dq_i/dt = r_i = k_LDF,i (q*_i - q_i)                              (linear driving force)
 isotherm:    q*_i = k1_i exp(k2_i/T) p_i / (1 + sum_k k3_k exp(k4_k/T) p_k)    (extended Langmuir, p_i = c_i R T)
 energy:      C_cell dT/dt = Q_conv + rho_b V_c sum_i dH_i r_i - h_out A_wall (T - T_amb)
 Ergun:       (p_j - p_j+1)/dz = a u + b rho |u| u,  a = 150 mu (1-eps_b)^2/(eps_b^3 d_p^2),
                                                      b = 1.75 (1-eps_b)/(eps_b^3 d_p)
              solved explicitly: u = 2 g/(a + sqrt(a^2 + 4 b rho |g|)),  g = (p_j - p_j+1)/dz
 face flows:  F = u A c_face, F_i = F y_i,face, y_i,face by MUSCL reconstruction with the van Albada limiter
              (Media.limitedFaceValue), normalised to sum 1;  Q_conv = upwind enthalpy inflow cp (T_in - T)
 dispersion:  F_i -= eps_b A D_ax c_face (y_i,j+1 - y_i,j)/dz  at the inner faces (Fick's law in the voids; the
              dispersive flows of the three species sum to zero, so the total flow and the mass balance are unchanged)
</pre>
<p>Mass is conserved exactly by construction (every face flow leaves one cell and enters its neighbour), so
the unit's cumulative in/out counters balance its inventory up to the integrator tolerance.</p>
<h4>Parameters and sources</h4>
<ul>
<li>Isotherm: Yang et al. Li-LSX extended Langmuir (Int. J. Chem. Eng. 2023 review, Table 1); argon uses the
O2 parameters (Ar adsorbs about as weakly as O2 on Li-zeolites: Johns et al., Thorax 1985).</li>
<li>Isosteric heats: N2 22.6 kJ/mol (Yang et al., Chem. Eng. Sci. 178 (2018) 194); O2 and Ar 13 kJ/mol
(within the uncertain 12-15 kJ/mol range; Yang's k2(O2) R = 12.8 kJ/mol).</li>
<li>LDF coefficients: <b>fitting parameters</b> (the literature spans 0.2-60 1/s); chosen for 0.4-0.8 mm
Li-LSX beads.</li>
<li>Bed voidage 0.36, particle diameter 0.6 mm, particle density 1150 kg/m3, cp 1000 J/(kg K): inside the
published ranges (physics.md).</li>
</ul>
<h4>Simplifications</h4>
<ul>
<li>Limited second-order upwind composition at the faces (first order at the two end faces). Its numerical
dispersion is of the order u dz/2 where the limiter acts; physical axial dispersion D_ax (parameter, default 0) adds
to it. Correlation for packed beds (Edwards and Richardson 1968; Ruthven 1984): D_ax = 0.7 D_m + 0.5 d_p u_i, with
D_m(O2-N2) about 2e-5 m2/s at 1 atm (falling as 1/p) and u_i the interstitial velocity: about 1e-5 + 0.5 x 0.6 mm
x 0.2 m/s = 7e-5 m2/s in this bed, smaller than the scheme's own dispersion at 10 cells (u dz/2 ~ 2e-3 m2/s), so it
matters only with many cells (nCells = 30 or more).</li>
<li>Gas, adsorbent and wall share one temperature per cell; the adsorbed phase heat capacity and pressure
work are neglected against the solid heat capacity (about 100x larger); no axial heat conduction.</li>
<li>The gas density in the Ergun inertia term uses the molar mass of air (0.0289 kg/mol).</li>
<li>The port pressures are those of the end cells (half-cell pressure drop neglected).</li>
</ul>
</html>"));
end SieveBed;
