"""Hardware in the loop: the serial protocol, the host-side device slave, the device agent and its test links."""
