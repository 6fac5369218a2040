"""Command-line entry points: ``prov4ml-run`` (launch) and ``prov4ml`` (tools)."""
