"""The `kiln` command line: one module per group of commands, all over the Python API."""
