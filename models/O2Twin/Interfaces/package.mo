within O2Twin;
package Interfaces "Connectors between components"
end Interfaces;
