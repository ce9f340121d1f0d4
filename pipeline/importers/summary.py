"""What an import did, counted as it goes and printed at its end.

Every item read is exactly one of stored, already there (stored by an
earlier run or by someone else) or refused (with its reason). Importers add
their own counts as ``notes`` (name, number): text traits that reached
Panko's 255-character limit, logbook tickets marked solved, ...
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

#: Distinct refusal reasons printed; the rest are summed up in one line.
SHOWN_REASONS = 10


@dataclass
class ImportSummary:
    """Counts of one import run (see the module docstring)."""

    unit: str
    read: int = 0
    stored: int = 0
    #: None when the storage cannot tell an item already there from a new one.
    already_there: int | None = 0
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    notes: dict[str, int] = field(default_factory=dict)
    interrupted: str | None = None

    @property
    def refused_count(self) -> int:
        """How many items were refused, whatever the reason."""
        return sum(self.refused.values())

    def refuse(self, reason: str, count: int = 1) -> None:
        """Count ``count`` items refused for ``reason``."""
        self.refused[reason] += count

    def note(self, name: str, count: int = 1) -> None:
        """Add ``count`` to the note ``name`` (created at zero)."""
        self.notes[name] = self.notes.get(name, 0) + count

    def lines(self) -> list[str]:
        """The summary as lines of text."""
        if self.already_there is None:
            head = f"{self.unit} read: {self.read:,}; stored (or already there): {self.stored:,}"
        else:
            head = f"{self.unit} read: {self.read:,}; stored: {self.stored:,}"
            head += f"; already there: {self.already_there:,}"
        head += f"; refused: {self.refused_count:,}"
        out = [head]
        for reason, count in self.refused.most_common(SHOWN_REASONS):
            out.append(f"  refused {count:,}: {reason}")
        hidden = self.refused.most_common()[SHOWN_REASONS:]
        if hidden:
            out.append(
                f"  refused {sum(c for _, c in hidden):,} more for {len(hidden)} other reasons"
            )
        out.extend(f"{name}: {count:,}" for name, count in self.notes.items())
        if self.interrupted:
            out.append(f"interrupted: {self.interrupted}")
        return out
