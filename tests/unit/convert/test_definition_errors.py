"""Invalid definitions files stop start-up with DefinitionError at file:line:column."""

from __future__ import annotations

import pathlib
import textwrap
from typing import Any

import pytest
from stevedore.extension import ExtensionManager

from pipeline.convert import EventConverter
from pipeline.exceptions import DefinitionError
from tests.unit.convert.conftest import make_notification


def load(tmp_path: pathlib.Path, text: str) -> EventConverter:
    path = tmp_path / "defs.yaml"
    path.write_text(textwrap.dedent(text))
    return EventConverter.from_file(path)


def error_of(tmp_path: pathlib.Path, text: str) -> str:
    with pytest.raises(DefinitionError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: pathlib.Path) -> None:
    message = error_of(tmp_path, """\
        - event_type: compute.*
          traits:
            a: {fields: payload.a
        - event_type: x
        """)
    # The flow mapping never closes; the parser notices at the ':' of line 4.
    assert message.startswith(f"{tmp_path / 'defs.yaml'}:4:13: invalid YAML: expected ','")


def test_unknown_plugin_names_its_place_and_the_installed_plugins(tmp_path: pathlib.Path) -> None:
    message = error_of(tmp_path, """\
        - event_type: compute.*
          traits:
            host:
              fields: publisher_id
              plugin:
                name: splitter
        """)
    assert message.startswith(f"{tmp_path / 'defs.yaml'}:6:15: definition 1 (compute.*), "
                              "trait 'host': unknown trait plugin 'splitter'")
    assert "split" in message.split("installed:")[1]


@pytest.mark.parametrize(("body", "where", "problem"), [
    ("- event_type: a\n  traits:\n    t: {fields: p, type: integer}\n", "3:26",
     "unknown type 'integer'"),
    ("- event_type: a\n  traits:\n    t: {type: int}\n", "3:8", "missing fields"),
    ("- event_type: a\n  traits:\n    t: {fields: []}\n", "3:17", "non-empty list of paths"),
    ("- event_type: a\n  traits:\n    t: {fields: [p, 'a[?']}\n", "3:21", "invalid JSONPath"),
    ("- event_type: a\n  traits:\n    t: {field: p}\n", "3:16", "unknown key 'field'"),
    ("- event_type: a\n  trait: {}\n", "2:10", "unknown key 'trait'"),
    ("- traits: {}\n", "1:3", "missing event_type"),
    ("- event_type: []\n  traits: {}\n", "1:15", "non-empty list of patterns"),
    ("- event_type: a\n  traits: [x]\n", "2:11", "traits must be a mapping"),
    ("- event_type: a\n  traits:\n    t: p\n", "3:8", "expected a mapping with fields"),
    ("- just text\n", "1:3", "expected a mapping"),
    ("event_type: a\n", "1:1", "expected a list of definitions"),
    ("- event_type: a\n  traits:\n    t: {fields: p, plugin: {name: split, parameters: {sep: x}}}\n",
     "3:54", "plugin 'split': SplitterTraitPlugin.__init__() got an unexpected keyword argument 'sep'"),
    ("- event_type: a\n  traits:\n    t: {fields: p, plugin: {name: map}}\n",
     "3:28", "plugin 'map': values must be a non-empty mapping"),
    ("- event_type: a\n  traits:\n    t: {fields: p, plugin: {parameters: {}}}\n",
     "3:28", "plugin needs a name"),
])
def test_schema_errors_name_file_line_and_column(
    tmp_path: pathlib.Path, body: str, where: str, problem: str
) -> None:
    message = error_of(tmp_path, body)
    assert message.startswith(f"{tmp_path / 'defs.yaml'}:{where}: "), message
    assert problem in message


def test_errors_in_anchored_traits_point_where_they_were_written(tmp_path: pathlib.Path) -> None:
    message = error_of(tmp_path, """\
        - event_type: a.*
          traits: &common
            size: {fields: payload.size, type: bigint}
        - event_type: a.b
          traits:
            <<: *common
        """)
    assert "defs.yaml:3:40: definition 1 (a.*), trait 'size': unknown type" in message


def test_a_key_written_twice_is_an_error_but_merge_overrides_are_not(
    tmp_path: pathlib.Path,
) -> None:
    message = error_of(tmp_path, """\
        - event_type: a
          traits:
            size: {fields: payload.size}
            size: {fields: payload.other}
        """)
    assert message.startswith(f"{tmp_path / 'defs.yaml'}:4:5: invalid YAML: found duplicate key")
    converter = load(tmp_path, """\
        - event_type: a.*
          traits: &common
            size: {fields: payload.size}
        - event_type: a.b
          traits:
            <<: *common
            size: {fields: payload.other, type: int}
        """)
    event: Any = converter.to_event(make_notification("a.b", size="x", other="5"))
    assert event.trait("size").value == 5


def test_definitions_built_in_code_report_the_definition_and_trait() -> None:
    with pytest.raises(DefinitionError, match=r"^definition 2 \(b\), trait 'x': missing fields"):
        EventConverter([{"event_type": "a", "traits": {}},
                        {"event_type": "b", "traits": {"x": {"type": "int"}}}])


def test_missing_unreadable_and_empty_files(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DefinitionError, match="nope.yaml: cannot read event definitions"):
        EventConverter.from_file(tmp_path / "nope.yaml")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DefinitionError, match="binary.yaml"):
        EventConverter.from_file(tmp_path / "binary.yaml")
    with pytest.raises(DefinitionError, match="no definitions"):
        load(tmp_path, "# only a comment\n")


def test_an_empty_list_is_valid_and_gives_default_traits(tmp_path: pathlib.Path) -> None:
    event = load(tmp_path, "[]\n").to_event(make_notification())
    assert event is not None
    assert {trait.name for trait in event.traits} == {
        "service", "request_id", "project_id", "tenant_id", "user_id"}


def test_third_party_plugin_is_found_by_entry_point_alone(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distribution declaring pipeline.trait_plugin = upper is usable by name."""
    (tmp_path / "upper_plugin.py").write_text(textwrap.dedent("""\
        from pipeline.convert import TraitPluginBase

        class Upper(TraitPluginBase):
            def trait_values(self, match_list):
                return [str(value).upper() for _path, value in match_list]
        """))
    dist = tmp_path / "upper_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: upper-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pipeline.trait_plugin]\nupper = upper_plugin:Upper\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # stevedore caches entry points per process; installing happens before start-up.
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    converter = load(tmp_path, """\
        - event_type: '*'
          traits:
            loud: {fields: publisher_id, plugin: upper}
        """)
    event: Any = converter.to_event(make_notification())
    assert event.trait("loud").value == "COMPUTE.NODE-01"
