"""pipeline-trait-example: a third-party trait plugin, loaded by entry point.

``digest`` replaces a value by a salted SHA-256 digest, so events can be
grouped and searched by, say, user id without storing the id itself::

    user_id:
      fields: payload.user_id
      plugin:
        name: digest
        parameters: {salt: "s3cret", length: 16}

Parameters: ``salt`` (text, required, non-empty) and ``length`` (hex
characters kept, 8 to 64, default 64). A value that is not text or a number
yields nothing, so the trait is left out rather than digesting ``None``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from pipeline.convert.plugins import Match, TraitPluginBase

__all__ = ["DigestTraitPlugin"]


class DigestTraitPlugin(TraitPluginBase):
    """Salted SHA-256 of the matched value, as lower-case hex."""

    def __init__(self, salt: str = "", length: int = 64) -> None:
        super().__init__()
        if not isinstance(salt, str) or not salt:
            raise ValueError("salt must be a non-empty string")
        if isinstance(length, bool) or not isinstance(length, int) or not 8 <= length <= 64:
            raise ValueError("length must be an integer from 8 to 64")
        self.salt = salt.encode("utf-8")
        self.length = length

    def trait_values(self, match_list: Sequence[Match]) -> list[Any]:
        """One digest per match; ``None`` for values that are not text or numbers."""
        return [self._digest(value) for _path, value in match_list]

    def _digest(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return None
        digest = hashlib.sha256(self.salt + b"\0" + str(value).encode("utf-8"))
        return digest.hexdigest()[: self.length]
