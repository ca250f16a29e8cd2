within O2Twin;
package Plant "Monolithic plant models"
end Plant;
