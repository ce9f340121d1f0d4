"""Event definitions: validate the Ceilometer format and compile it once.

The format is a list of definitions::

    - event_type: compute.instance.*          # a glob, or a list of globs
      traits:
        instance_id:
          fields: payload.instance_id         # a JSONPath, or a list (first non-null wins)
        memory_mb:
          type: int                           # text (default), int, float, datetime
          fields: payload.memory_mb
        host:
          fields: publisher_id
          plugin: {name: split, parameters: {segment: 1, max_split: 1}}

Patterns are shell globs matched case-sensitively against the whole event
type; a pattern starting with ``!`` excludes, and a definition with only
exclusions matches every other type. When several definitions match, the
last one in the file wins. Every definition also gets the default traits
(:data:`pipeline.convert.traits.DEFAULT_TRAITS`), which it may override.

Any problem (unknown key, bad type, missing ``fields``, invalid JSONPath,
unknown plugin or bad plugin parameters) raises
:class:`~pipeline.exceptions.DefinitionError` naming the place:
``file:line:column`` when the definitions came from YAML.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from pipeline.convert.marked_yaml import format_mark, mark_of
from pipeline.convert.paths import FieldPath
from pipeline.convert.plugins import TraitPluginBase
from pipeline.convert.traits import DEFAULT_TRAITS, TYPE_NAMES, PluginLoader, TraitDefinition
from pipeline.exceptions import DefinitionError
from pipeline.models import Trait

_DEFINITION_KEYS = frozenset({"event_type", "traits"})
_TRAIT_KEYS = frozenset({"fields", "type", "plugin"})
_PLUGIN_KEYS = frozenset({"name", "parameters"})
_TEXT = Trait.TEXT_TYPE


class EventDefinition:
    """One compiled definition: which event types, and which traits."""

    __slots__ = ("_exclude", "_include", "_plan", "patterns", "traits")

    def __init__(self, patterns: list[str], traits: Mapping[str, TraitDefinition]) -> None:
        self.patterns = tuple(patterns)
        includes = [p for p in patterns if not p.startswith("!")]
        excludes = [p[1:] for p in patterns if p.startswith("!")]
        self._include = _glob_regex(includes or ["*"])
        self._exclude = _glob_regex(excludes) if excludes else None
        merged = {trait.name: trait for trait in DEFAULT_TRAITS}
        merged.update(traits)
        self.traits = tuple(merged.values())
        self._plan = tuple((t.name, t.dtype, t.getter, t) for t in self.traits)

    def matches(self, event_type: str) -> bool:
        """Whether this definition applies to ``event_type``."""
        if self._include.match(event_type) is None:
            return False
        return self._exclude is None or self._exclude.match(event_type) is None

    def to_traits(self, body: dict[str, Any]) -> tuple[Trait, ...]:
        """Every trait that has a value in ``body``, in definition order."""
        # The hot loop of the converter: single-field text traits (most of
        # them) are built inline, without a call per trait.
        traits: list[Trait] = []
        append = traits.append
        for name, dtype, get, definition in self._plan:
            if get is None:
                trait = definition.to_trait(body)
            else:
                value = get(body)
                if value is None:
                    continue
                if dtype == _TEXT and value.__class__ is str:
                    append(Trait(name, _TEXT, value))
                    continue
                trait = definition.typed(value)
            if trait is not None:
                append(trait)
        return tuple(traits)


def _glob_regex(patterns: list[str]) -> re.Pattern[str]:
    # fnmatch.translate anchors each pattern (\Z); one alternation is one scan.
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns), re.DOTALL)


class _Compiler:
    """Validates parsed definitions and reports errors with their place."""

    def __init__(self) -> None:
        self.plugins = PluginLoader()

    def fail(self, where: tuple[Any, Any], context: str, message: str) -> NoReturn:
        """Raise DefinitionError for ``container[key]`` given as ``where``."""
        mark = mark_of(*where)
        place = f"{format_mark(mark)}: " if mark is not None else ""
        raise DefinitionError(f"{place}{context}: {message}")

    def definitions(self, config: Any) -> list[EventDefinition]:
        if not isinstance(config, list):
            self.fail(
                (config, None),
                "definitions",
                f"expected a list of definitions, got {type(config).__name__}",
            )
        return [self.definition(config, index) for index in range(len(config))]

    def definition(self, config: list[Any], index: int) -> EventDefinition:
        item = config[index]
        context = f"definition {index + 1}"
        if not isinstance(item, Mapping):
            self.fail((config, index), context, "expected a mapping with event_type and traits")
        self.check_keys(item, _DEFINITION_KEYS, context)
        if "event_type" not in item:
            self.fail((config, index), context, "missing event_type")
        patterns = self.patterns(item, context)
        context = f"{context} ({', '.join(patterns)})"
        traits_cfg = item.get("traits") or {}
        if not isinstance(traits_cfg, Mapping):
            self.fail((item, "traits"), context, "traits must be a mapping of name to definition")
        traits: dict[str, TraitDefinition] = {}
        for name in traits_cfg:
            if not isinstance(name, str) or not name:
                self.fail((traits_cfg, name), context, f"trait name must be text, not {name!r}")
            traits[name] = self.trait(traits_cfg, name, f"{context}, trait {name!r}")
        return EventDefinition(patterns, traits)

    def patterns(self, item: Mapping[str, Any], context: str) -> list[str]:
        value = item["event_type"]
        patterns = [value] if isinstance(value, str) else value
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(p, str) and p.lstrip("!") for p in patterns)
        ):
            self.fail(
                (item, "event_type"),
                context,
                "event_type must be a pattern or a non-empty list of patterns",
            )
        return patterns

    def check_keys(self, item: Mapping[Any, Any], allowed: frozenset[str], context: str) -> None:
        for key in item:
            if key not in allowed:
                self.fail(
                    (item, key),
                    context,
                    f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})",
                )

    def trait(self, traits_cfg: Mapping[str, Any], name: str, context: str) -> TraitDefinition:
        cfg = traits_cfg[name]
        if not isinstance(cfg, Mapping):
            self.fail((traits_cfg, name), context, "expected a mapping with fields")
        self.check_keys(cfg, _TRAIT_KEYS, context)
        type_name = cfg.get("type", "text")
        if not isinstance(type_name, str) or type_name not in TYPE_NAMES:
            self.fail(
                (cfg, "type"),
                context,
                f"unknown type {type_name!r} (expected one of {', '.join(TYPE_NAMES)})",
            )
        if "fields" not in cfg:
            self.fail((traits_cfg, name), context, "missing fields")
        fields = self.fields(cfg, context)
        plugin = self.plugin(cfg, context) if "plugin" in cfg else None
        return TraitDefinition(name, TYPE_NAMES[type_name], fields, plugin)

    def fields(self, cfg: Mapping[str, Any], context: str) -> list[FieldPath]:
        value = cfg["fields"]
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            self.fail(
                (cfg, "fields"), context, "fields must be a path or a non-empty list of paths"
            )
        compiled = []
        for index, text in enumerate(texts):
            try:
                compiled.append(FieldPath(text))
            except ValueError as err:
                where: tuple[Any, Any] = (texts, index) if texts is value else (cfg, "fields")
                self.fail(where, context, str(err))
        return compiled

    def plugin(self, cfg: Mapping[str, Any], context: str) -> TraitPluginBase:
        spec = cfg["plugin"]
        if isinstance(spec, Mapping):
            self.check_keys(spec, _PLUGIN_KEYS, context)
            name, parameters = spec.get("name"), spec.get("parameters") or {}
        else:
            name, parameters = spec, {}
        where: tuple[Any, Any] = (spec, "name") if isinstance(spec, Mapping) else (cfg, "plugin")
        if not isinstance(name, str):
            self.fail(where, context, "plugin needs a name")
        if not isinstance(parameters, Mapping) or not all(isinstance(k, str) for k in parameters):
            self.fail((spec, "parameters"), context, "plugin parameters must be a mapping")
        try:
            plugin_class = self.plugins.load(name)
        except ValueError as err:
            self.fail(where, context, str(err))
        try:
            return plugin_class(**parameters)
        except (TypeError, ValueError) as err:
            where = (spec, "parameters") if isinstance(spec, Mapping) else where
            self.fail(where, context, f"plugin {name!r}: {err}")


def compile_definitions(config: Any) -> list[EventDefinition]:
    """Validate parsed definitions (from YAML or built in code) and compile them."""
    return _Compiler().definitions(config)
