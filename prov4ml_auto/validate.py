"""Validator behind ``prov4ml validate FILE...``.

The ``prov`` library reads most malformed PROV-JSON silently and the published
JSON Schema is wrong in places, so this module checks the rules of
``PROV_PROFILE.md`` itself (:func:`validate_document`), reads JSON strictly
(:func:`load_strict`) and keeps ``prov`` only as an oracle
(:func:`oracle_problems`), imported lazily so importing this module stays cheap.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import sys
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

PROV_NS = "http://www.w3.org/ns/prov#"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
# prov and xsd are in scope without a declaration, and may not be rebound.
_STANDARD_PREFIXES = {"prov": PROV_NS, "xsd": XSD_NS}

_ENTITY, _ACTIVITY, _AGENT = ("entity",), ("activity",), ("agent",)
_ELEMENT = ("entity", "activity", "agent")
# Per relation kind: formal attribute -> kinds of record it may name.
_FORMALS: dict[str, dict[str, tuple[str, ...]]] = {
    "wasGeneratedBy": {"prov:entity": _ENTITY, "prov:activity": _ACTIVITY},
    "used": {"prov:activity": _ACTIVITY, "prov:entity": _ENTITY},
    "wasInformedBy": {"prov:informed": _ACTIVITY, "prov:informant": _ACTIVITY},
    "wasStartedBy": {
        "prov:activity": _ACTIVITY,
        "prov:trigger": _ENTITY,
        "prov:starter": _ACTIVITY,
    },
    "wasEndedBy": {
        "prov:activity": _ACTIVITY,
        "prov:trigger": _ENTITY,
        "prov:ender": _ACTIVITY,
    },
    "wasInvalidatedBy": {"prov:entity": _ENTITY, "prov:activity": _ACTIVITY},
    "wasDerivedFrom": {
        "prov:generatedEntity": _ENTITY,
        "prov:usedEntity": _ENTITY,
        "prov:activity": _ACTIVITY,
        "prov:generation": ("wasGeneratedBy",),
        "prov:usage": ("used",),
    },
    "wasAttributedTo": {"prov:entity": _ENTITY, "prov:agent": _AGENT},
    "wasAssociatedWith": {
        "prov:activity": _ACTIVITY,
        "prov:agent": _AGENT,
        "prov:plan": _ENTITY,
    },
    "actedOnBehalfOf": {
        "prov:delegate": _AGENT,
        "prov:responsible": _AGENT,
        "prov:activity": _ACTIVITY,
    },
    "wasInfluencedBy": {"prov:influencee": _ELEMENT, "prov:influencer": _ELEMENT},
    "specializationOf": {"prov:specificEntity": _ENTITY, "prov:generalEntity": _ENTITY},
    "alternateOf": {"prov:alternate1": _ENTITY, "prov:alternate2": _ENTITY},
    "hadMember": {"prov:collection": _ENTITY, "prov:entity": _ENTITY},
}
_REQUIRED: dict[str, tuple[str, ...]] = {
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
_RECORD_KINDS = (*_ELEMENT, *_FORMALS)
_TOP_KEYS = frozenset(("prefix", "bundle", *_RECORD_KINDS))
# Time attributes PROV-DM defines, per record kind.
_TIMES: dict[str, tuple[str, ...]] = {
    "activity": ("prov:startTime", "prov:endTime"),
    **{
        kind: ("prov:time",)
        for kind in ("wasGeneratedBy", "used", "wasStartedBy", "wasEndedBy", "wasInvalidatedBy")
    },
}
_PROV_GENERIC = frozenset(("prov:type", "prov:label", "prov:location", "prov:role", "prov:value"))

# PROV-N safe, ASCII: local names per the profile, prefixes per PROV-N PN_PREFIX.
_LOCAL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*")
_PREFIX = re.compile(r"[A-Za-z](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?")
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>\"{}|\\^`\x7f]+")
_LANGTAG = re.compile(r"[a-zA-Z]+(?:-[a-zA-Z0-9]+)*")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Our documented encoding of non-finite floats.
_NON_FINITE = frozenset(("NaN", "INF", "-INF"))
_INTEGER_RANGES: dict[str, tuple[int | None, int | None]] = {
    "xsd:integer": (None, None),
    "xsd:long": (-(2**63), 2**63 - 1),
    "xsd:int": (-(2**31), 2**31 - 1),
    "xsd:short": (-(2**15), 2**15 - 1),
    "xsd:byte": (-(2**7), 2**7 - 1),
    "xsd:nonNegativeInteger": (0, None),
    "xsd:positiveInteger": (1, None),
    "xsd:nonPositiveInteger": (None, 0),
    "xsd:negativeInteger": (None, -1),
    "xsd:unsignedLong": (0, 2**64 - 1),
    "xsd:unsignedInt": (0, 2**32 - 1),
    "xsd:unsignedShort": (0, 2**16 - 1),
    "xsd:unsignedByte": (0, 2**8 - 1),
}
# More significant digits than any bounded range above holds, so int() is never
# asked to convert a huge string (Python caps that at 4300 digits).
_MAX_BOUNDED_DIGITS = 20


class DocumentReadError(Exception):
    """The input is not a single strict RFC 8259 JSON object encoded as UTF-8."""


# ---------------------------------------------------------------- strict JSON


def load_strict(data: bytes) -> dict:
    """Parse ``data`` as one strict JSON object.

    Python's ``json`` accepts NaN/Infinity tokens and repeated keys (keeping the
    last), both of which other PROV readers treat differently, so they are
    refused here instead of surfacing later as silent data changes.
    """
    if not data.strip():
        raise DocumentReadError("empty input")
    if data.startswith(codecs.BOM_UTF8):
        raise DocumentReadError("not RFC 8259 JSON: starts with a UTF-8 byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentReadError(f"not UTF-8: invalid byte at offset {exc.start}") from None
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DocumentReadError(_decode_error_text(text, exc)) from None
    except (ValueError, RecursionError) as exc:  # digit limit, nesting depth
        raise DocumentReadError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DocumentReadError(f"top level is {_json_type(doc)}, not an object")
    return doc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build an object, refusing a repeated key (``json`` would keep the last)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DocumentReadError(f"duplicate key {key!r} in a JSON object")
        obj[key] = value
    return obj


def _no_constant(token: str) -> Any:
    """Refuse ``NaN``/``Infinity``/``-Infinity``, which RFC 8259 does not allow."""
    raise DocumentReadError(f"non-standard JSON token {token}")


def _decode_error_text(text: str, exc: json.JSONDecodeError) -> str:
    """Say "truncated" when the parser ran off the end, since that is the usual cause."""
    where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
        return f"truncated JSON: {where}"
    return f"not JSON: {where}"


# ------------------------------------------------------------------ profile


def validate_document(doc: dict) -> list[str]:
    """Return one line per PROV_PROFILE.md violation in ``doc``; empty when valid.

    Never raises on any JSON value, so the CLI can report instead of crash.
    """
    if not isinstance(doc, dict):
        return [f"document: expected an object, got {_json_type(doc)}"]
    checker = _Checker()
    problems = list(checker.container(doc, "", _STANDARD_PREFIXES, in_bundle=False))
    problems += checker.cross_problems()
    return [_one_line(problem) for problem in problems]


class _Checker:
    """Walks one document; remembers declarations so references are checked last,
    because a formal attribute may name a record declared later or in a bundle."""

    def __init__(self) -> None:
        # kind -> expanded id -> id as written (first declaration).
        self.declared: dict[str, dict[str, str]] = {kind: {} for kind in _RECORD_KINDS}
        # (where, value as written, expanded value, kinds it may name)
        self.refs: list[tuple[str, str, str, tuple[str, ...]]] = []
        self.blank_ids: dict[str, str] = {}

    def container(
        self, obj: dict, path: str, outer: Mapping[str, str], in_bundle: bool
    ) -> Iterator[str]:
        """Check the document or one bundle: keys, prefixes, records."""
        scope = dict(outer)
        if "prefix" in obj:
            yield from _prefix_problems(obj["prefix"], f"{path}prefix", scope)
        for key, value in obj.items():
            where = f"{path}{key}"
            if key == "prefix":
                continue
            if key not in _TOP_KEYS:
                yield f"{where}: unknown key"
            elif key == "bundle" and in_bundle:
                yield f"{where}: bundles never nest"
            elif key == "bundle":
                yield from self.bundles(value, scope)
            else:
                yield from self.records(key, value, where, scope)

    def bundles(self, value: Any, scope: Mapping[str, str]) -> Iterator[str]:
        """Check each bundle; a bundle is an entity, so its id is declared as one."""
        if not isinstance(value, dict):
            yield f"bundle: expected an object, got {_json_type(value)}"
            return
        for bid, body in value.items():
            where = f"bundle/{bid}"
            if problem := _element_id_problem(bid, scope):
                yield f"{where}: bundle id {problem}"
            else:
                self.declare("entity", bid, scope)
            if isinstance(body, dict):
                yield from self.container(body, f"{where}/", scope, in_bundle=True)
            else:
                yield f"{where}: expected an object, got {_json_type(body)}"

    def records(self, kind: str, value: Any, path: str, scope: Mapping[str, str]) -> Iterator[str]:
        """Check one record kind: an object mapping ids to attribute objects."""
        if not isinstance(value, dict):
            yield f"{path}: expected an object mapping ids to records, got {_json_type(value)}"
            return
        for rid, attrs in value.items():
            where = f"{path}/{rid}"
            yield from self.record_id(kind, rid, where, scope)
            if isinstance(attrs, dict):
                yield from self.attributes(kind, attrs, where, scope)
            else:
                yield f"{where}: expected one attribute object, got {_json_type(attrs)}"

    def record_id(self, kind: str, rid: str, where: str, scope: Mapping[str, str]) -> Iterator[str]:
        """Elements need real ids; relations may use blank ids, unique in the document."""
        if kind in _ELEMENT:
            problem = _element_id_problem(rid, scope)
        elif rid.startswith("_:"):
            problem = _blank_problem(rid)
            if problem is None and rid in self.blank_ids:
                problem = f"{rid!r} is already the id of {self.blank_ids[rid]}"
            self.blank_ids.setdefault(rid, where)
        else:
            problem = _name_problem(rid, scope)
        if problem:
            yield f"{where}: id {problem}"
        else:
            self.declare(kind, rid, scope)

    def declare(self, kind: str, rid: str, scope: Mapping[str, str]) -> None:
        """Remember a valid id by its expanded IRI, so prefix aliases compare equal."""
        self.declared[kind].setdefault(_expand(rid, scope), rid)

    def attributes(
        self, kind: str, attrs: dict, path: str, scope: Mapping[str, str]
    ) -> Iterator[str]:
        """Check every attribute of one record, then its required and time attributes."""
        present: set[str] = set()
        for key, value in attrs.items():
            where = f"{path}/{key}"
            if problem := _name_problem(key, scope):
                yield f"{where}: attribute {problem}"
                continue
            name = _canonical(key, scope)
            present.add(name)
            yield from self.attribute(kind, name, value, where, scope)
        for name in _REQUIRED.get(kind, ()):
            if name not in present:
                yield f"{path}: missing required {name}"
        if kind == "activity":
            yield from _interval_problems(attrs, path, scope)

    def attribute(
        self, kind: str, name: str, value: Any, where: str, scope: Mapping[str, str]
    ) -> Iterator[str]:
        """Dispatch on what the attribute is: time, formal reference or plain value."""
        formals = _FORMALS.get(kind, {})
        if name in ("prov:time", "prov:startTime", "prov:endTime"):
            if name not in _TIMES.get(kind, ()):
                yield f"{where}: {name} is not an attribute of {kind}"
            if problem := _time_problem(value):
                yield f"{where}: {problem}"
        elif name in formals:
            yield from self.formal(value, where, formals[name], scope)
        elif name.startswith("prov:") and name not in _PROV_GENERIC:
            yield f"{where}: {name} is not an attribute of {kind}"
        else:
            yield from _value_problems(value, where, scope)

    def formal(
        self, value: Any, where: str, kinds: tuple[str, ...], scope: Mapping[str, str]
    ) -> Iterator[str]:
        """A formal attribute is one name; whether it is declared is checked at the end."""
        if not isinstance(value, str):
            yield f"{where}: expected a single id string, got {_json_type(value)}"
            return
        problem = _blank_problem(value) if value.startswith("_:") else _name_problem(value, scope)
        if problem:
            yield f"{where}: {problem}"
        else:
            self.refs.append((where, value, _expand(value, scope), kinds))

    def cross_problems(self) -> list[str]:
        """Problems that need the whole document: dangling references, entity/activity overlap."""
        problems = [
            f"{where}: {value!r} is not a declared {' or '.join(kinds)}"
            for where, value, expanded, kinds in self.refs
            if not any(expanded in self.declared[kind] for kind in kinds)
        ]
        problems += [
            f"activity/{shown}: id is both an entity and an activity"
            for iri, shown in self.declared["activity"].items()
            if iri in self.declared["entity"]
        ]
        return problems


def _prefix_problems(value: Any, path: str, scope: dict[str, str]) -> Iterator[str]:
    """Check a ``prefix`` object and add its bindings to ``scope``.

    Bindings with a bad IRI still enter the scope, so that one mistake is not
    reported again at every name using the prefix.
    """
    if not isinstance(value, dict):
        yield f"{path}: expected an object, got {_json_type(value)}"
        return
    for prefix, iri in value.items():
        where = f"{path}/{prefix}"
        if prefix == "default":
            yield f"{where}: the default namespace is not allowed; declare a prefix"
            continue
        if not _PREFIX.fullmatch(prefix):
            yield f"{where}: prefix is not PROV-N safe"
        if not isinstance(iri, str):
            yield f"{where}: expected an IRI string, got {_json_type(iri)}"
        elif prefix in _STANDARD_PREFIXES:
            if iri != _STANDARD_PREFIXES[prefix]:
                yield f"{where}: rebinds {prefix} (must be {_STANDARD_PREFIXES[prefix]})"
        else:
            if not _ABSOLUTE_IRI.fullmatch(iri):
                yield f"{where}: {iri!r} is not an absolute IRI"
            scope[prefix] = iri


def _name_problem(name: str, scope: Mapping[str, str]) -> str | None:
    """Why ``name`` is not a prefixed name with a declared prefix and a safe local part."""
    prefix, colon, local = name.partition(":")
    if not colon:
        return f"{name!r} has no prefix"
    if prefix not in scope:
        return f"{name!r} uses undeclared prefix {prefix!r}"
    return _local_problem(name, local)


def _local_problem(name: str, local: str) -> str | None:
    """Why the local part of ``name`` is not PROV-N safe ASCII."""
    if not _LOCAL.fullmatch(local) or local.endswith("."):
        return f"{name!r} has a local name that is not PROV-N safe"
    return None


def _blank_problem(name: str) -> str | None:
    """Why a ``_:`` blank id is malformed."""
    return _local_problem(name, name[2:])


def _element_id_problem(name: str, scope: Mapping[str, str]) -> str | None:
    """Entities, activities, agents and bundles need real, stable ids."""
    if name.startswith("_:"):
        return f"{name!r} is blank; entities, activities, agents and bundles need real ids"
    return _name_problem(name, scope)


def _expand(name: str, scope: Mapping[str, str]) -> str:
    """The full IRI of a valid name (blank ids stay as written)."""
    prefix, _, local = name.partition(":")
    return name if prefix == "_" else scope[prefix] + local


def _canonical(name: str, scope: Mapping[str, str]) -> str:
    """Write a valid name in the prov/xsd namespaces as ``prov:x``/``xsd:x``,
    so that an alias prefix bound to the same IRI is recognised."""
    iri = _expand(name, scope)
    for prefix, namespace in _STANDARD_PREFIXES.items():
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace):]}"
    return name


# ------------------------------------------------------------------- values


def _value_problems(value: Any, where: str, scope: Mapping[str, str]) -> Iterator[str]:
    """A plain attribute value: string, typed literal, or a flat list of those."""
    if isinstance(value, str):
        return
    if isinstance(value, dict):
        yield from _literal_problems(value, where, scope)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, list):
                yield f"{where}[{index}]: nested array"
            else:
                yield from _value_problems(item, f"{where}[{index}]", scope)
    elif value is None:
        yield f"{where}: null value"
    else:
        yield f"{where}: bare JSON {_json_type(value)}; write a typed literal"


def _literal_problems(literal: dict, where: str, scope: Mapping[str, str]) -> Iterator[str]:
    """``{"$": str, "type": name}`` or ``{"$": str, "lang": tag}``, lexically valid."""
    keys = set(literal)
    if keys not in ({"$", "type"}, {"$", "lang"}):
        yield f'{where}: value object has keys {sorted(keys)}; expected "$" with "type" or "lang"'
        return
    text, tag = literal["$"], literal.get("type", literal.get("lang"))
    if not isinstance(text, str):
        yield f'{where}: "$" is {_json_type(text)}, not a string'
    elif not isinstance(tag, str):
        yield f"{where}: {'type' if 'type' in keys else 'lang'} is {_json_type(tag)}, not a string"
    elif "lang" in keys:
        if not _LANGTAG.fullmatch(tag):
            yield f"{where}: {tag!r} is not a BCP 47 language tag"
    elif problem := _name_problem(tag, scope):
        yield f"{where}: type {problem}"
    elif problem := _lexical_problem(text, _canonical(tag, scope), scope):
        yield f"{where}: {problem}"


def _lexical_problem(text: str, datatype: str, scope: Mapping[str, str]) -> str | None:
    """Why ``text`` is not in the lexical space of ``datatype`` (None if it is,
    or if the datatype is one whose lexical space we do not restrict)."""
    if datatype in ("xsd:double", "xsd:float"):
        return _double_problem(text, datatype)
    if datatype in _INTEGER_RANGES:
        return _integer_problem(text, datatype)
    if datatype == "xsd:decimal" and not _DECIMAL.fullmatch(text):
        return f"{text!r} is not an xsd:decimal"
    if datatype == "xsd:boolean" and text not in ("true", "false"):
        return f"{text!r} is not an xsd:boolean (true or false)"
    if datatype == "xsd:dateTime":
        return _time_problem(text)
    if datatype in ("xsd:QName", "prov:QUALIFIED_NAME"):
        return _name_problem(text, scope)
    return None


def _double_problem(text: str, datatype: str) -> str | None:
    """Finite decimal/scientific, or exactly NaN, INF, -INF (our non-finite encoding)."""
    if text in _NON_FINITE:
        return None
    if not _DOUBLE.fullmatch(text):
        return f"{text!r} is not an {datatype} (non-finite values are NaN, INF, -INF)"
    if float(text) in (float("inf"), float("-inf")):
        return f"{text!r} overflows {datatype}; write INF or -INF"
    return None


def _integer_problem(text: str, datatype: str) -> str | None:
    """Digits only, within the type's range."""
    if not _INTEGER.fullmatch(text):
        return f"{text!r} is not an {datatype}"
    low, high = _INTEGER_RANGES[datatype]
    if low is None and high is None:
        return None
    if len(text.lstrip("+-0")) > _MAX_BOUNDED_DIGITS:
        return f"{text[:24]}... is out of range for {datatype}"
    number = int(text)
    if (low is not None and number < low) or (high is not None and number > high):
        return f"{text} is out of range for {datatype}"
    return None


# --------------------------------------------------------------------- time


def _time_problem(value: Any) -> str | None:
    """Why ``value`` is not an RFC 3339 string with an offset."""
    if not isinstance(value, str):
        return f"expected an RFC 3339 string, got {_json_type(value)}"
    try:
        _parse_time(value)
    except ValueError as exc:
        return str(exc)
    return None


def _parse_time(text: str) -> tuple[dt.datetime, Decimal]:
    """Parse RFC 3339 with an offset into a sortable (instant, fraction) pair.

    The fraction is kept apart as a Decimal because RFC 3339 allows more digits
    than ``datetime`` holds, and end >= start must compare them exactly.
    """
    match = _DATETIME.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not RFC 3339 with an offset (Z or +hh:mm)")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, zone = match.group(7), _tz(match.group(8))
    try:
        stamp = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date and time") from None
    return stamp, Decimal(f"0.{fraction or 0}")


def _tz(offset: str) -> dt.timezone:
    """A timezone for ``Z`` or ``±hh:mm``, within XSD's ±14:00 bound."""
    if offset == "Z":
        return dt.timezone.utc
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise ValueError(f"offset {offset} is beyond ±14:00")
    sign = -1 if offset[0] == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _interval_problems(attrs: dict, path: str, scope: Mapping[str, str]) -> Iterator[str]:
    """An activity must not end before it starts."""
    times = {_canonical(key, scope): value for key, value in attrs.items()
             if not _name_problem(key, scope)}
    start, end = times.get("prov:startTime"), times.get("prov:endTime")
    if _time_problem(start) or _time_problem(end):
        return
    if _parse_time(end) < _parse_time(start):
        yield f"{path}: prov:endTime {end} is before prov:startTime {start}"


# ------------------------------------------------------------------- oracle


def oracle_problems(text: str) -> list[str]:
    """Problems the reference ``prov`` library finds: a read that warns about
    what prov 3.3 will reject, or a JSON round trip that changes the document.

    ``prov`` reads ``{"$": "NaN", "type": "xsd:double"}`` as ``float("nan")``,
    which never compares equal, so a round trip that fails ``==`` still passes
    when writing both reads gives the same JSON text: the document is then at
    a fixed point and only NaN differs.
    """
    import warnings

    try:
        from prov.model import ProvDocument, ProvFutureRejectionWarning
    except ImportError as exc:
        return [_one_line(f"oracle unavailable: cannot import prov ({exc})")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProvFutureRejectionWarning)
        try:
            first = ProvDocument.deserialize(content=text, format="json")
            written = first.serialize(format="json")
            again = ProvDocument.deserialize(content=written, format="json")
            same = first == again or again.serialize(format="json") == written
        except Exception as exc:  # any failure inside prov is the finding itself
            return [_one_line(f"prov rejects the document: {type(exc).__name__}: {exc}")]
    return [] if same else ["prov: the JSON round trip does not compare equal to the first read"]


# ---------------------------------------------------------------------- CLI


def main(paths: list[str]) -> int:
    """``prov4ml validate FILE...``: 0 all valid, 1 any problem, 2 any unreadable file."""
    if not paths:
        print("usage: prov4ml validate FILE...", file=sys.stderr)
        return 2
    return max(_check_file(path) for path in paths)


def _check_file(path: str) -> int:
    """Validate one file and print its result; the exit status it calls for."""
    shown = _one_line(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read()
        doc = load_strict(data)
    except OSError as exc:
        print(f"{shown}: cannot read: {_one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    except (ValueError, DocumentReadError) as exc:  # ValueError: NUL in the path
        print(f"{shown}: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    problems = validate_document(doc) + oracle_problems(data.decode("utf-8"))
    for problem in problems:
        print(f"{shown}: {problem}")
    if problems:
        return 1
    print(f"OK {shown}")
    return 0


# ------------------------------------------------------------------ helpers


def _json_type(value: Any) -> str:
    """JSON's name for the type of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _one_line(text: str) -> str:
    """Escape what would break the one-line-per-problem output or its encoding."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
