within O2Twin;
package CoSim "Co-simulation units exported as FMUs"
end CoSim;
