"""The `autoscale-kit` command: one module per command, each thin over the library."""
