"""Compiled trait definitions: fields (+ plugin) → one typed :class:`Trait`.

Semantics (Ceilometer's): without a plugin, the first field, in the order
listed, that has a non-null value gives the value; with a plugin, every
non-null match of every field goes to the plugin and its first value is
used. The value is then converted to the trait's type; a value that cannot be
converted (or an empty string for a non-text trait, which nova sends for
unset dates) leaves the trait out of the event and is logged at debug level.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from stevedore import driver, extension
from stevedore.exception import MultipleMatches, NoMatches

from pipeline.convert.paths import FieldPath
from pipeline.convert.plugins import TraitPluginBase
from pipeline.models import Trait

LOG = logging.getLogger(__name__)

PLUGIN_NAMESPACE = "pipeline.trait_plugin"

#: Type names accepted in definition files, by dtype.
TYPE_NAMES = {name: dtype for dtype, name in Trait.DEFINITION_TYPE_NAMES.items() if dtype}

_TEXT = Trait.TEXT_TYPE


class TraitDefinition:
    """How one trait is extracted from a notification dict."""

    __slots__ = ("_single", "dtype", "fields", "name", "plugin")

    def __init__(
        self,
        name: str,
        dtype: int,
        fields: Sequence[FieldPath],
        plugin: TraitPluginBase | None = None,
    ) -> None:
        self.name = name
        self.dtype = dtype
        self.fields = tuple(fields)
        self.plugin = plugin
        # The common case, one field and no plugin, skips the loop.
        self._single = fields[0].first if len(fields) == 1 and plugin is None else None

    @property
    def getter(self) -> Any:
        """The lone field's fast getter when there is one field and no plugin."""
        return self._single

    def to_trait(self, body: dict[str, Any]) -> Trait | None:
        """The trait for ``body``, or None when it has no (convertible) value."""
        if self._single is not None:
            value = self._single(body)
        elif self.plugin is None:
            value = None
            for field in self.fields:
                value = field.first(body)
                if value is not None:
                    break
        else:
            value = self._plugin_value(body)
        return None if value is None else self.typed(value)

    def typed(self, value: Any) -> Trait | None:
        """The trait holding non-null ``value`` converted to the trait's type."""
        dtype = self.dtype
        if dtype == _TEXT and value.__class__ is str:
            return Trait(self.name, dtype, value)
        if dtype != _TEXT and value == "":
            return None
        try:
            value = Trait.convert_value(dtype, value)
        except ValueError as err:
            LOG.debug("trait %s dropped: %s", self.name, err)
            return None
        return Trait(self.name, dtype, value)

    def _plugin_value(self, body: dict[str, Any]) -> Any:
        assert self.plugin is not None
        matches = [match for field in self.fields for match in field.matches(body)]
        try:
            values = self.plugin.trait_values(matches)
            return values[0] if values else None
        except Exception:  # third-party plugin code must not stop the consumer
            LOG.debug(
                "trait %s dropped: plugin %s failed",
                self.name,
                type(self.plugin).__name__,
                exc_info=True,
            )
            return None


def _fields(*texts: str) -> list[FieldPath]:
    return [FieldPath(text) for text in texts]


#: project_id and tenant_id are one value under two names (Ceilometer's
#: default traits); both read it from the same places.
_PROJECT_FIELDS = _fields(
    "payload.tenant_id",
    "payload.project_id",
    "_context_project_id",
    "_context_tenant",
    "_context_project",
    "context.project_id",
)

#: Traits every event gets (a definition may override them by name). The
#: project and user come from the payload first, then from the request
#: context, which oslo.messaging v1/v2 flattens into ``_context_*`` keys.
DEFAULT_TRAITS: tuple[TraitDefinition, ...] = (
    TraitDefinition("service", _TEXT, _fields("publisher_id")),
    TraitDefinition(
        "request_id",
        _TEXT,
        _fields("_context_request_id", "_context_global_request_id", "context.request_id"),
    ),
    TraitDefinition(
        "project_id",
        _TEXT,
        _PROJECT_FIELDS,
    ),
    TraitDefinition(
        "user_id",
        _TEXT,
        _fields("payload.user_id", "_context_user_id", "_context_user", "context.user_id"),
    ),
    TraitDefinition(
        "tenant_id",
        _TEXT,
        _PROJECT_FIELDS,
    ),
)


class PluginLoader:
    """Finds trait plugin classes by entry point name (cached per loader)."""

    def __init__(self) -> None:
        self._classes: dict[str, type[TraitPluginBase]] = {}

    def load(self, name: str) -> type[TraitPluginBase]:
        """The plugin class called ``name``; ValueError names the installed ones."""
        if name not in self._classes:
            try:
                manager: Any = driver.DriverManager(PLUGIN_NAMESPACE, name, invoke_on_load=False)
            except NoMatches:
                installed = ", ".join(sorted(extension.ExtensionManager(PLUGIN_NAMESPACE).names()))
                raise ValueError(
                    f"unknown trait plugin {name!r} (installed: {installed or 'none'})"
                ) from None
            except MultipleMatches:
                raise ValueError(f"trait plugin {name!r} is registered more than once") from None
            if not callable(getattr(manager.driver, "trait_values", None)):
                raise ValueError(f"trait plugin {name!r} has no trait_values method")
            plugin_class: type[TraitPluginBase] = manager.driver
            self._classes[name] = plugin_class
        return self._classes[name]
