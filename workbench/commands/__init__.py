"""Subcommands of the ``workbench`` CLI, one module per group."""
