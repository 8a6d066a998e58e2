"""`python -m calcformula` runs the command-line interface."""

from calcformula.cli import run

run()
