"""The device side of hardware in the loop: the Pi agent, its hardware layers and its command line."""
