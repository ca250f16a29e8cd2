"""Controllers of the concentrator: PID, fuzzy O2 titration, PSA cycle sequencer and the SafetyWatchdog.

Each controller is a co-simulation slave (orchestrator.cosim.slaves.base.Slave) with its own sample time.
"""
