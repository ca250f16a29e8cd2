"""Co-simulation: the System (slaves and connections, checked up front), the slaves (FMU co-simulation, FMU model
exchange, Python blocks) and the master algorithms that step them. Knows nothing of scenario files or results."""
