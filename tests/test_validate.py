"""Tests for prov4ml_auto.validate: one broken document per PROV_PROFILE.md rule."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prov4ml_auto.validate import (
    DocumentReadError,
    load_strict,
    main,
    oracle_problems,
    validate_document,
)

# The example at the end of PROV_PROFILE.md.
EXAMPLE: dict[str, Any] = {
    "prefix": {"ml": "https://example.org/ml#", "run": "https://example.org/runs/r42/"},
    "entity": {
        "run:dataset": {
            "prov:type": {"$": "ml:Dataset", "type": "xsd:QName"},
            "ml:numExamples": {"$": "50000", "type": "xsd:long"},
        }
    },
    "activity": {
        "run:train": {
            "prov:startTime": "2025-01-15T10:00:00+00:00",
            "prov:endTime": "2025-01-15T11:42:07.123456+00:00",
        }
    },
    "agent": {"run:trainer": {"prov:type": {"$": "prov:SoftwareAgent", "type": "xsd:QName"}}},
    "used": {"_:u1": {"prov:activity": "run:train", "prov:entity": "run:dataset"}},
    "wasAssociatedWith": {"_:a1": {"prov:activity": "run:train", "prov:agent": "run:trainer"}},
}
Doc = dict[str, Any]


def example() -> Doc:
    """A fresh copy, so a test may mutate it."""
    return copy.deepcopy(EXAMPLE)


def with_entity_attr(key: str, value: Any) -> Doc:
    """The example with one more attribute on run:dataset."""
    doc = example()
    doc["entity"]["run:dataset"][key] = value
    return doc


def with_record(kind: str, rid: str, attrs: Any) -> Doc:
    """The example with one more record."""
    doc = example()
    doc.setdefault(kind, {})[rid] = attrs
    return doc


def with_prefix(name: str, iri: Any) -> Doc:
    """The example with one more prefix declaration."""
    doc = example()
    doc["prefix"][name] = iri
    return doc


def with_times(start: Any, end: Any) -> Doc:
    """The example with run:train's times replaced."""
    doc = example()
    doc["activity"]["run:train"] = {"prov:startTime": start, "prov:endTime": end}
    return doc


def literal(text: Any, datatype: Any) -> dict[str, Any]:
    """A typed literal value object."""
    return {"$": text, "type": datatype}


def test_example_passes_both_checks() -> None:
    assert validate_document(example()) == []
    assert oracle_problems(json.dumps(EXAMPLE)) == []


@pytest.mark.parametrize("text", ["NaN", "INF", "-INF", "0.05", "-1.5E-7", "1e308"])
def test_double_encodings_pass_both_checks(text: str) -> None:
    doc = with_entity_attr("ml:loss", literal(text, "xsd:double"))
    assert validate_document(doc) == []
    assert oracle_problems(json.dumps(doc)) == []


@pytest.mark.parametrize(
    "doc",
    [
        with_entity_attr("ml:tags", ["a", literal("1", "xsd:long"), literal("true", "xsd:boolean")]),
        with_entity_attr("ml:n", literal("9" * 100, "xsd:integer")),
        with_entity_attr("ml:n", literal("-9223372036854775808", "xsd:long")),
        with_entity_attr("prov:label", {"$": "données", "lang": "fr"}),
        with_entity_attr("ml:when", literal("2025-01-15T10:00:00.5-05:30", "xsd:dateTime")),
        with_times("2025-01-15T10:00:00Z", "2025-01-15T10:00:00.0000001Z"),
        with_record("wasGeneratedBy", "_:g1", {"prov:entity": "run:dataset", "prov:time": "2025-01-15T10:00:00Z"}),
        with_record(
            "bundle",
            "run:b1",
            {
                "prefix": {"b": "urn:example:b:"},
                "entity": {"b:model": {}},
                "wasDerivedFrom": {"_:d1": {"prov:generatedEntity": "b:model", "prov:usedEntity": "run:dataset"}},
            },
        ),
    ],
    ids=["list", "huge-integer", "long-min", "lang", "datetime-literal", "sub-us-interval", "gen-time", "bundle"],
)
def test_valid_variants_pass_both_checks(doc: Doc) -> None:
    assert validate_document(doc) == []
    assert oracle_problems(json.dumps(doc)) == []


def missing_formal(kind: str, absent: str) -> Doc:
    """A relation of ``kind`` with all of its ends but ``absent``."""
    ends = {
        "prov:entity": "run:dataset",
        "prov:activity": "run:train",
        "prov:informed": "run:train",
        "prov:informant": "run:train",
        "prov:generatedEntity": "run:dataset",
        "prov:usedEntity": "run:dataset",
        "prov:agent": "run:trainer",
        "prov:delegate": "run:trainer",
        "prov:responsible": "run:trainer",
        "prov:influencee": "run:dataset",
        "prov:influencer": "run:trainer",
        "prov:specificEntity": "run:dataset",
        "prov:generalEntity": "run:dataset",
        "prov:alternate1": "run:dataset",
        "prov:alternate2": "run:dataset",
        "prov:collection": "run:dataset",
    }
    required = REQUIRED[kind]
    return with_record(kind, "_:r1", {name: ends[name] for name in required if name != absent})


REQUIRED = {
    "wasGeneratedBy": ("prov:entity",),
    "wasInvalidatedBy": ("prov:entity",),
    "used": ("prov:activity",),
    "wasStartedBy": ("prov:activity",),
    "wasEndedBy": ("prov:activity",),
    "wasAssociatedWith": ("prov:activity",),
    "wasInformedBy": ("prov:informed", "prov:informant"),
    "wasDerivedFrom": ("prov:generatedEntity", "prov:usedEntity"),
    "wasAttributedTo": ("prov:entity", "prov:agent"),
    "actedOnBehalfOf": ("prov:delegate", "prov:responsible"),
    "wasInfluencedBy": ("prov:influencee", "prov:influencer"),
    "specializationOf": ("prov:specificEntity", "prov:generalEntity"),
    "alternateOf": ("prov:alternate1", "prov:alternate2"),
    "hadMember": ("prov:collection", "prov:entity"),
}


@pytest.mark.parametrize(
    ("kind", "absent"), [(kind, name) for kind, names in REQUIRED.items() for name in names]
)
def test_missing_required_formal_attribute(kind: str, absent: str) -> None:
    problems = validate_document(missing_formal(kind, absent))
    assert any("_:r1" in p and absent in p for p in problems), problems


@pytest.mark.parametrize("kind", REQUIRED)
def test_complete_relations_pass(kind: str) -> None:
    assert validate_document(missing_formal(kind, "")) == []


def _nested_bundle() -> Doc:
    inner = {"entity": {"run:x": {}}}
    return with_record("bundle", "run:b1", {"bundle": {"run:b2": inner}})


def _shared_blank_id() -> Doc:
    doc = example()
    doc["wasGeneratedBy"] = {"_:u1": {"prov:entity": "run:dataset"}}
    return doc


def _entity_and_activity() -> Doc:
    doc = example()
    doc["entity"]["run:train"] = {}
    return doc


BROKEN: dict[str, tuple[Callable[[], Doc], str]] = {
    # Structure
    "unknown-top-key": (lambda: {**example(), "wasEndedby": {}}, "wasEndedby"),
    "kind-not-object": (lambda: {**example(), "entity": ["run:dataset"]}, "entity"),
    "record-not-object": (lambda: with_record("entity", "run:x", [{}]), "run:x"),
    "prefix-not-object": (lambda: {**example(), "prefix": ["ml"]}, "prefix"),
    "bundle-not-object": (lambda: with_record("bundle", "run:b1", []), "run:b1"),
    "unknown-bundle-key": (lambda: with_record("bundle", "run:b1", {"agents": {}}), "agents"),
    "nested-bundle": (_nested_bundle, "bundle/run:b1/bundle"),
    "null-attribute": (lambda: with_entity_attr("ml:n", None), "ml:n"),
    "null-prefix": (lambda: with_prefix("ex", None), "prefix/ex"),
    "null-record": (lambda: with_record("entity", "run:x", None), "run:x"),
    "null-in-list": (lambda: with_entity_attr("ml:xs", ["a", None]), "ml:xs[1]"),
    "null-literal-value": (lambda: with_entity_attr("ml:n", literal(None, "xsd:long")), "ml:n"),
    # Names
    "undeclared-id-prefix": (lambda: with_record("entity", "zz:x", {}), "zz:x"),
    "undeclared-attr-prefix": (lambda: with_entity_attr("zz:k", "v"), "zz:k"),
    "undeclared-qname-value": (lambda: with_entity_attr("prov:type", literal("zz:Q", "xsd:QName")), "zz:Q"),
    "undeclared-literal-type": (lambda: with_entity_attr("ml:n", literal("1", "zz:t")), "zz:t"),
    "undeclared-formal-prefix": (
        lambda: with_record("used", "_:u2", {"prov:activity": "zz:act"}),
        "zz:act",
    ),
    "relative-prefix-iri": (lambda: with_prefix("ex", "example.org/ns#"), "prefix/ex"),
    "prefix-iri-with-space": (lambda: with_prefix("ex", "https://example.org/a b/"), "prefix/ex"),
    "rebind-prov": (lambda: with_prefix("prov", "https://example.org/prov#"), "prefix/prov"),
    "rebind-xsd": (lambda: with_prefix("xsd", "https://example.org/xsd#"), "prefix/xsd"),
    "default-namespace": (lambda: with_prefix("default", "https://example.org/"), "prefix/default"),
    "unsafe-prefix-name": (lambda: with_prefix("1ex", "https://example.org/"), "prefix/1ex"),
    "local-name-space": (lambda: with_record("entity", "run:my file", {}), "run:my file"),
    "local-name-unicode": (lambda: with_record("entity", "run:données", {}), "run:données"),
    "local-name-trailing-dot": (lambda: with_record("entity", "run:x.", {}), "run:x."),
    "local-name-empty": (lambda: with_record("entity", "run:", {}), "run:"),
    "no-prefix": (lambda: with_record("agent", "trainer", {}), "trainer"),
    "blank-entity": (lambda: with_record("entity", "_:e1", {}), "_:e1"),
    "blank-activity": (lambda: with_record("activity", "_:a9", {}), "_:a9"),
    "blank-agent": (lambda: with_record("agent", "_:g9", {}), "_:g9"),
    "blank-bundle": (lambda: with_record("bundle", "_:b1", {}), "_:b1"),
    "bad-blank-id": (lambda: with_record("used", "_:u 2", {"prov:activity": "run:train"}), "_:u 2"),
    "shared-blank-id": (_shared_blank_id, "_:u1"),
    "entity-and-activity": (_entity_and_activity, "run:train"),
    # Relations
    "dangling-reference": (lambda: with_record("used", "_:u2", {"prov:activity": "run:ghost"}), "run:ghost"),
    "activity-names-entity": (
        lambda: with_record("used", "_:u2", {"prov:activity": "run:dataset"}),
        "run:dataset",
    ),
    "agent-names-activity": (
        lambda: with_record("wasAttributedTo", "_:t1", {"prov:entity": "run:dataset", "prov:agent": "run:train"}),
        "run:train",
    ),
    "trigger-names-activity": (
        lambda: with_record("wasStartedBy", "_:s1", {"prov:activity": "run:train", "prov:trigger": "run:train"}),
        "prov:trigger",
    ),
    "starter-names-entity": (
        lambda: with_record("wasStartedBy", "_:s1", {"prov:activity": "run:train", "prov:starter": "run:dataset"}),
        "prov:starter",
    ),
    "ender-names-agent": (
        lambda: with_record("wasEndedBy", "_:x1", {"prov:activity": "run:train", "prov:ender": "run:trainer"}),
        "prov:ender",
    ),
    "formal-as-list": (
        lambda: with_record("used", "_:u2", {"prov:activity": ["run:train"]}),
        "_:u2/prov:activity",
    ),
    "formal-as-literal": (
        lambda: with_record("used", "_:u2", {"prov:activity": literal("run:train", "xsd:QName")}),
        "_:u2/prov:activity",
    ),
    "formal-on-wrong-kind": (lambda: with_entity_attr("prov:activity", "run:train"), "prov:activity"),
    # Values
    "bare-number": (lambda: with_entity_attr("ml:lr", 0.05), "ml:lr"),
    "bare-int": (lambda: with_entity_attr("ml:epochs", 3), "ml:epochs"),
    "bare-bool": (lambda: with_entity_attr("ml:shuffle", True), "ml:shuffle"),
    "plain-object": (lambda: with_entity_attr("ml:cfg", {"lr": "0.1"}), "ml:cfg"),
    "literal-extra-key": (lambda: with_entity_attr("ml:n", {"$": "1", "type": "xsd:long", "x": "y"}), "ml:n"),
    "literal-no-type": (lambda: with_entity_attr("ml:n", {"$": "1"}), "ml:n"),
    "literal-number-value": (lambda: with_entity_attr("ml:n", literal(1, "xsd:long")), "ml:n"),
    "literal-type-not-string": (lambda: with_entity_attr("ml:n", literal("1", 5)), "ml:n"),
    "bad-lang-tag": (lambda: with_entity_attr("prov:label", {"$": "x", "lang": "en_GB"}), "prov:label"),
    "nested-list": (lambda: with_entity_attr("ml:m", [["a"]]), "ml:m[0]"),
    "bad-list-item": (lambda: with_entity_attr("ml:xs", ["a", 5]), "ml:xs[1]"),
    "long-fraction": (lambda: with_entity_attr("ml:n", literal("1.5", "xsd:long")), "ml:n"),
    "long-overflow": (lambda: with_entity_attr("ml:n", literal(str(2**63), "xsd:long")), "ml:n"),
    "long-huge": (lambda: with_entity_attr("ml:n", literal("9" * 5000, "xsd:long")), "ml:n"),
    "int-overflow": (lambda: with_entity_attr("ml:n", literal(str(2**31), "xsd:int")), "ml:n"),
    "integer-not-digits": (lambda: with_entity_attr("ml:n", literal("12a", "xsd:integer")), "ml:n"),
    "boolean-capital": (lambda: with_entity_attr("ml:b", literal("True", "xsd:boolean")), "ml:b"),
    "double-comma": (lambda: with_entity_attr("ml:x", literal("1,5", "xsd:double")), "ml:x"),
    "double-lower-nan": (lambda: with_entity_attr("ml:x", literal("nan", "xsd:double")), "ml:x"),
    "double-infinity": (lambda: with_entity_attr("ml:x", literal("Infinity", "xsd:double")), "ml:x"),
    "double-overflow": (lambda: with_entity_attr("ml:x", literal("1e999", "xsd:double")), "ml:x"),
    "float-empty": (lambda: with_entity_attr("ml:x", literal("", "xsd:float")), "ml:x"),
    "datetime-literal-naive": (
        lambda: with_entity_attr("ml:t", literal("2025-01-15T10:00:00", "xsd:dateTime")),
        "ml:t",
    ),
    # Time
    "naive-start": (lambda: with_times("2025-01-15T10:00:00", "2025-01-15T11:00:00Z"), "prov:startTime"),
    "date-only-end": (lambda: with_times("2025-01-15T10:00:00Z", "2025-01-15"), "prov:endTime"),
    "end-before-start": (lambda: with_times("2025-01-15T10:00:00Z", "2025-01-15T09:59:59.9Z"), "run:train"),
    "end-before-start-offsets": (
        lambda: with_times("2025-01-15T10:00:00+00:00", "2025-01-15T10:30:00+01:00"),
        "run:train",
    ),
    "time-not-string": (lambda: with_times(literal("2025-01-15T10:00:00Z", "xsd:dateTime"), None), "prov:startTime"),
    "time-null": (lambda: with_times("2025-01-15T10:00:00Z", None), "prov:endTime"),
    "invalid-date": (lambda: with_times("2025-02-30T10:00:00Z", "2025-03-01T10:00:00Z"), "prov:startTime"),
    "offset-beyond-14h": (lambda: with_times("2025-01-15T10:00:00+15:00", "2025-01-16T10:00:00Z"), "prov:startTime"),
    "relation-time-naive": (
        lambda: with_record("used", "_:u2", {"prov:activity": "run:train", "prov:time": "2025-01-15 10:00:00"}),
        "_:u2/prov:time",
    ),
    "time-on-wrong-kind": (lambda: with_entity_attr("prov:startTime", "2025-01-15T10:00:00Z"), "prov:startTime"),
    "time-on-derivation": (
        lambda: with_record(
            "wasDerivedFrom",
            "_:d1",
            {"prov:generatedEntity": "run:dataset", "prov:usedEntity": "run:dataset", "prov:time": "2025-01-15T10:00:00Z"},
        ),
        "_:d1/prov:time",
    ),
}


@pytest.mark.parametrize(("make", "mention"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_rule_is_reported(make: Callable[[], Doc], mention: str) -> None:
    problems = validate_document(make())
    assert problems, "expected at least one problem"
    assert any(mention in p for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_non_object_document() -> None:
    assert validate_document([]) != []  # type: ignore[arg-type]


def test_alias_of_prov_namespace_is_recognised() -> None:
    doc = with_prefix("p", "http://www.w3.org/ns/prov#")
    doc["used"]["_:u1"] = {"p:activity": "run:train"}
    assert validate_document(doc) == []
    del doc["used"]["_:u1"]["p:activity"]
    assert any("prov:activity" in p for p in validate_document(doc))


def test_declaring_standard_prefixes_with_their_iris_is_fine() -> None:
    doc = with_prefix("prov", "http://www.w3.org/ns/prov#")
    doc["prefix"]["xsd"] = "http://www.w3.org/2001/XMLSchema#"
    assert validate_document(doc) == []


def test_oracle_reports_prov_future_rejection() -> None:
    doc = with_entity_attr("ml:q", literal("zz:x", "xsd:QName"))
    assert oracle_problems(json.dumps(doc))
    assert oracle_problems("[]")
    assert oracle_problems('{"entity": {"ex:a": {}}}')


# ---------------------------------------------------------------- strict JSON


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b'{"entity": {"a": 1', "truncated"),
        (b'{"prefix": {"ex": "http://exa', "truncated"),
        (b'{"a": 1, "a": 2}', "duplicate"),
        (b'{"e": {"x": {"v": 1}, "x": {}}}', "duplicate"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "Infinity"),
        (b"[1, 2]", "not an object"),
        (b'"text"', "not an object"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"a": "\xc3"}', "UTF-8"),
        (b'\xef\xbb\xbf{"a": "b"}', "byte order mark"),
        (b'{"a": 1} x', "not JSON"),
        (b"{'a': 1}", "not JSON"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
def test_load_strict_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(DocumentReadError, match=reason):
        load_strict(data)


def test_load_strict_accepts_example() -> None:
    assert load_strict(json.dumps(EXAMPLE).encode()) == EXAMPLE


# ----------------------------------------------------------------------- main


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def test_main_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "ok.json", json.dumps(EXAMPLE).encode())
    assert main([path, path]) == 0
    assert capsys.readouterr().out.splitlines() == [f"OK {path}", f"OK {path}"]


def test_main_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "ok.json", json.dumps(EXAMPLE).encode())
    bad = write(tmp_path, "bad.json", json.dumps(with_entity_attr("ml:lr", 0.05)).encode())
    assert main([good, bad]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"OK {good}"
    assert lines[1:] and all(line.startswith(f"{bad}: ") for line in lines[1:])
    assert any("ml:lr" in line for line in lines[1:])


@pytest.mark.parametrize(
    "content",
    [None, b'{"a": NaN}', b'{"a": 1', b"\xff", b""],
    ids=["missing", "nan-token", "truncated", "not-utf8", "empty"],
)
def test_main_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None) -> None:
    good = write(tmp_path, "ok.json", json.dumps(EXAMPLE).encode())
    path = str(tmp_path / "missing.json") if content is None else write(tmp_path, "x.json", content)
    assert main([path, good]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"{path}: ")
    assert "Traceback" not in captured.err
    assert f"OK {good}" in captured.out


def test_main_directory_and_no_args(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert main([]) == 2
    assert "Traceback" not in capsys.readouterr().err


# ----------------------------------------------------------------- hypothesis

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
KINDS = st.sampled_from(["entity", "activity", "agent", "used", "wasGeneratedBy", "hadMember", "bundle", "prefix"])
NAMES = st.sampled_from(["ex:a", "ex:b", "_:x", "zz:q", "prov:type", "prov:entity", "prov:startTime", "ex:", "a b"])
# Documents shaped like PROV-JSON, so the deeper checks see arbitrary values too.
SHAPED = st.dictionaries(
    KINDS,
    st.dictionaries(NAMES, st.dictionaries(NAMES, JSON, max_size=3) | JSON, max_size=3) | JSON,
    max_size=4,
).map(lambda doc: {"prefix": {"ex": "http://example.org/"}, **doc})


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64) | JSON.map(lambda v: json.dumps(v).encode()))
def test_load_strict_only_raises_document_read_error(data: bytes) -> None:
    try:
        doc = load_strict(data)
    except DocumentReadError:
        return
    assert isinstance(validate_document(doc), list)


@settings(max_examples=200, deadline=None)
@given(doc=JSON | SHAPED)
def test_validate_document_never_raises(doc: Any) -> None:
    problems = validate_document(doc)
    assert all(isinstance(p, str) and "\n" not in p for p in problems)
