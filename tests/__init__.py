"""O2 Twin's tests: one folder per source package (export, cosim, scenario, results, hil, controllers, cli), models/
for the physics of the Modelica library, support/ for shared test FMUs and blocks."""
