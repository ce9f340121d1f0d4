"""YAML loading that remembers where every mapping value and list item was.

Definitions are validated after parsing; to report an error at its place in
the file, the loader builds :class:`MarkedDict`/:class:`MarkedList` (plain
``dict``/``list`` subclasses) that carry the start mark of each value.
Anchors, aliases and ``<<`` merge keys work as in ``yaml.safe_load``; a merged
value points to where it was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from pipeline.exceptions import DefinitionError


class MarkedDict(dict):  # type: ignore[type-arg]
    """A mapping from YAML with the mark of itself and of each value."""

    mark: yaml.Mark | None = None
    value_marks: dict[Any, yaml.Mark]

    def __init__(self) -> None:
        super().__init__()
        self.value_marks = {}


class MarkedList(list):  # type: ignore[type-arg]
    """A sequence from YAML with the mark of itself and of each item."""

    mark: yaml.Mark | None = None
    item_marks: list[yaml.Mark]

    def __init__(self) -> None:
        super().__init__()
        self.item_marks = []


class _Loader(yaml.SafeLoader):
    """SafeLoader producing marked containers."""

    def construct_marked_map(self, node: yaml.MappingNode) -> Iterator[MarkedDict]:
        data = MarkedDict()
        data.mark = node.start_mark
        yield data
        self._reject_duplicate_keys(node)
        data.update(self.construct_mapping(node))  # flattens merge keys into node.value
        for key_node, value_node in node.value:
            key = self.construct_object(key_node)
            data.value_marks[key] = value_node.start_mark

    @staticmethod
    def _reject_duplicate_keys(node: yaml.MappingNode) -> None:
        # PyYAML silently keeps the last of two equal keys; in a definitions
        # file that hides a typo or a copy-paste slip. Keys brought in by a
        # "<<" merge may be overridden, which is what merging is for.
        seen: set[str] = set()
        for key_node, _value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen.add(key_node.value)

    def construct_marked_seq(self, node: yaml.SequenceNode) -> Iterator[MarkedList]:
        data = MarkedList()
        data.mark = node.start_mark
        yield data
        data.extend(self.construct_sequence(node))
        data.item_marks.extend(item.start_mark for item in node.value)


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_marked_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_marked_seq)


def format_mark(mark: yaml.Mark) -> str:
    """``file:line:column`` (1-based, as editors count)."""
    return f"{mark.name}:{mark.line + 1}:{mark.column + 1}"


def load(text: str, name: str) -> Any:
    """Parse YAML ``text`` read from ``name``; syntax errors become DefinitionError."""
    loader = None
    try:
        loader = _Loader(text)  # the reader already rejects unprintable characters
        loader.name = name
        return loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = format_mark(mark) if mark is not None else name
        problem = err.problem or err.context or "invalid YAML"
        raise DefinitionError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise DefinitionError(f"{name}: invalid YAML: {err}") from None
    finally:
        if loader is not None:
            loader.dispose()


def mark_of(container: Any, key: Any) -> yaml.Mark | None:
    """Where ``container[key]`` was written, if the container came from YAML."""
    if isinstance(container, MarkedDict):
        return container.value_marks.get(key, container.mark)
    if isinstance(container, MarkedList):
        if isinstance(key, int) and 0 <= key < len(container.item_marks):
            return container.item_marks[key]
        return container.mark
    return None
