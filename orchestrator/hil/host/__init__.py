"""The host side of hardware in the loop: the SerialDevice slave and apply_plant, which swaps plant FMUs for it."""
