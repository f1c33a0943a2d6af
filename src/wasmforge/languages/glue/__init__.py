"""Glue wasmforge generates around user scripts (Python, JavaScript) and the WASI WIT it
targets, taken from the installed jco package (never pasted into the repository)."""
