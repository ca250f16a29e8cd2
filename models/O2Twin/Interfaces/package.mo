within O2Twin;
package Interfaces "Connectors between components"
  annotation(Documentation(info="<html>
<p>GasPort: the one gas connector. Control signals are plain Real inputs/outputs of the components (no MSL).</p>
</html>"));
end Interfaces;
