"""`python -m nkhandout`."""

from .cli import main

main(prog_name="nkhandout")
