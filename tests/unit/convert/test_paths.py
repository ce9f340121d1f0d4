"""Field paths: plain dotted paths take the fast lookup and agree with JSONPath."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.convert.paths import FieldPath, _jsonpath_matcher, plain_steps


@pytest.mark.parametrize(("text", "steps"), [
    ("payload", ("payload",)),
    ("payload.instance_id", ("payload", "instance_id")),
    ("$.payload.instance_id", ("payload", "instance_id")),
    ("payload.image_meta.'org.openstack__1__os'", ("payload", "image_meta", "org.openstack__1__os")),
    ('payload."binding:host_id"', ("payload", "binding:host_id")),
    ("payload.fixed_ips[0].address", ("payload", "fixed_ips", 0, "address")),
    ("payload.grid[1][2]", ("payload", "grid", 1, 2)),
])
def test_plain_paths_compile_to_lookup_steps(text: str, steps: tuple[Any, ...]) -> None:
    assert plain_steps(text) == steps
    assert FieldPath(text).plain


@pytest.mark.parametrize("text", [
    "payload.*.name", "payload..id", "payload.ips[*].address", "payload.ips[-1]",
    "payload.meta[?key='x'].value", "publisher_id.`split(., 1, 1)`", "$",
    "payload.a-b",  # jsonpath-ng ext reads this as a subtraction
])
def test_other_expressions_use_jsonpath(text: str) -> None:
    assert plain_steps(text) is None
    assert not FieldPath(text).plain


@pytest.mark.parametrize("text", ["a[?", "a..", "", "a b", "payload.where"])
def test_invalid_expressions_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="invalid JSONPath"):
        FieldPath(text)




documents = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "c.d", "0"]), children, min_size=1, max_size=3),
    max_leaves=10,
)


@pytest.mark.parametrize("text", [
    "a", "a.b", "$.a.b", "a.'c.d'", "a[0]", "a[1].b", "a.b.a", "a.b[0][0]", "a.'0'",
    "a.'0'.b", "a.\"c.d\"[0]",
])
@settings(max_examples=60, deadline=None)
@given(document=documents)
def test_plain_lookup_agrees_with_jsonpath(text: str, document: Any) -> None:
    plain = FieldPath(text)
    assert plain.plain
    first_match = _jsonpath_matcher(text)(document)[:1]
    assert plain.matches(document) == first_match
    assert plain.first(document) == (first_match[0][1] if first_match else None)


@pytest.mark.parametrize(("text", "document", "path"), [
    ("a.'0'", {"a": {"0": 1}}, "a.'0'"),
    ("payload.image_meta.'org.x'", {"payload": {"image_meta": {"org.x": 1}}},
     "payload.image_meta.'org.x'"),
    ("a.b[0]", {"a": {"b": [1]}}, "a.b.[0]"),
])
def test_plugins_see_the_same_match_path_as_jsonpath_gives(
    text: str, document: Any, path: str
) -> None:
    assert FieldPath(text).matches(document) == [(path, 1)]
    assert _jsonpath_matcher(text)(document) == [(path, 1)]
