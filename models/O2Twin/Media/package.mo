within O2Twin;
package Media "Air composition, gas properties and adsorption isotherms"
end Media;
