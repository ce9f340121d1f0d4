"""Ticket levels by name: logbook's numbers (ERROR is 14), shown as names.

Shared by the CLI, the API and the tickets page, which all accept a level as
a name (``error``, case-insensitive) or a number.
"""

from __future__ import annotations

from pipeline.convert.tickets import LEVELS

_NAMES = {number: name for name, number in LEVELS.items()}


def level_name(level: int) -> str:
    """The name of a logbook level number; unknown numbers as ``LEVEL <n>``."""
    return _NAMES.get(level, f"LEVEL {level}")


def parse_level(text: str) -> int:
    """A level number from a name or a number; ValueError for anything else."""
    name = text.strip().upper()
    if name in LEVELS:
        return LEVELS[name]
    try:
        number = int(name)
    except ValueError:
        raise ValueError(
            f"unknown level {text!r}; use a number or one of "
            f"{', '.join(name.lower() for name in LEVELS)}"
        ) from None
    if not 0 <= number <= 1000:
        raise ValueError(f"level {number} is out of range (0..1000)")
    return number
