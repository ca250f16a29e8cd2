within O2Twin;
package Patient "Patient physiology: breathing, FiO2, gas exchange, SpO2"
end Patient;
