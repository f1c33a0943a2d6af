"""`python -m wasmforge`."""

from wasmforge.cli import main

main()
