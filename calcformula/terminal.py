"""Whether the command line colours what it prints.

One rule for every command (the global `--color` option, then the environment, then the
terminal): `--color always|never` wins; with `auto` (the default) a non-empty `NO_COLOR`
turns colour off (https://no-color.org), else a non-empty `FORCE_COLOR` turns it on
(https://force-color.org), else a stream is coloured when it is a terminal.
"""

from __future__ import annotations

import os
from typing import IO

import click

CHOICES = ("auto", "always", "never")
_KEY = "calcformula.colour"


def decide(choice: str) -> bool | None:
    """True or False when the option or the environment settles it; None: ask each stream."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return None


def configure(context: click.Context, choice: str) -> None:
    """Record the decision for this run (click's own `color` setting follows it, so that
    `click.echo` keeps the escape codes on a pipe with `always` and drops them with `never`)."""
    decided = decide(choice)
    context.meta[_KEY] = decided
    context.color = decided


def colour(stream: IO[str]) -> bool:
    """Colour what goes to this stream?"""
    context = click.get_current_context(silent=True)
    known = context is not None and _KEY in context.meta
    decided = context.meta[_KEY] if context is not None and known else decide("auto")
    if decided is not None:
        return bool(decided)
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
