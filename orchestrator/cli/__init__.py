"""The `o2twin` command line: argparse front end only (orchestrator.cli.main); one module per sub-command in
orchestrator.cli.commands. Nothing in the package imports this one."""
