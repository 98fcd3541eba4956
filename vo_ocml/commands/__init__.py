"""Subcommands of the ``vo-ocml`` command line that belong to the core."""
