"""The `billrecon` command: wires the pipeline to its sources (and, for the demo, to the sandbox)."""
