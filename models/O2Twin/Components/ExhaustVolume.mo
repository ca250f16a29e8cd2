within O2Twin.Components;
model ExhaustVolume "Blowdown/exhaust volume (muffler chamber) between the exhaust valves and the room"
  extends O2Twin.Components.ProductTank(V=0.2e-3);
  annotation(Documentation(info="<html>
<p>The chamber the exhaust valves blow down into before the gas leaves through the exhaust check valve and the
muffler: a well-mixed volume at the wall temperature, dn_i/dt = sum of the inflows, p = R T sum(n)/V (the
isothermal volume of Components.ProductTank; the expanding blowdown gas exchanges heat with the chamber and the
muffler wool within the swing). Its back-pressure slows the blowdown of the venting bed, and the exhaust check valve
keeps room air from being drawn back into a bed. Typical chambers and mufflers of 5 L/min units hold 0.1-0.5 L.</p>
</html>"));
end ExhaustVolume;
