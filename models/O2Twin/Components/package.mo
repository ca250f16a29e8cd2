within O2Twin;
package Components "Compressor, valves, sieve bed, product tank and sensors"
end Components;
