"""The serial link shared by host and device: framing (COBS + CRC), the versioned protocol, ports, real-time pacing
and the device description."""
