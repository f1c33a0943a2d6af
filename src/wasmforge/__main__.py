"""`python -m wasmforge`."""

from wasmforge.launch import main

main()
