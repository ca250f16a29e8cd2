"""Sub-commands of the `o2twin` CLI, one module each (discovered automatically by orchestrator.cli.main)."""
