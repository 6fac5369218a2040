"""The PROV-JSON document model: ids, typed literals, records and relations. Knows nothing of ML or torch.

Values are converted to PROV-JSON's typed literals when a record is added, so the document is always a tree
of plain str/dict/list that orjson writes with no fallback hook. Every change is also handed to a listener
(the journal), which is how a killed process can be rebuilt from its journal by replaying the same changes.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
from typing import Any, Callable, Mapping

PROV4ML_NS = "https://w3id.org/prov4ml-auto/ns#"
RUN_NS_ROOT = "https://w3id.org/prov4ml-auto/run/"
SHA256_NS = "https://w3id.org/prov4ml-auto/sha256/"

RECORD_KINDS = ("entity", "activity", "agent")
RELATION_KINDS = (
    "wasGeneratedBy", "used", "wasInformedBy", "wasStartedBy", "wasEndedBy", "wasInvalidatedBy",
    "wasDerivedFrom", "wasAttributedTo", "wasAssociatedWith", "actedOnBehalfOf", "wasInfluencedBy",
    "specializationOf", "alternateOf", "hadMember",
)
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]")

Listener = Callable[[str, str, dict], None]


class QName(str):
    """A value written as ``xsd:QName`` (for example ``prov4ml:Checkpoint``)."""


def local_name(text: str) -> str:
    """A PROV-N safe local name: unsafe characters become '_', never empty, never ending in '.'."""
    name = _UNSAFE.sub("_", text)
    if not name or not (name[0].isalnum() or name[0] == "_"):
        name = "_" + name
    return name.rstrip(".") or "_"


def format_time(timestamp: float) -> str:
    """RFC 3339 with an explicit UTC offset, as PROV-JSON times must be."""
    return _dt.datetime.fromtimestamp(timestamp, tz=_dt.timezone.utc).isoformat()


def format_double(value: float) -> str:
    """xsd:double lexical form; NaN and infinities use XML Schema's own spellings NaN, INF, -INF."""
    number = float(value)  # an exact float: numpy's float64 reprs as "np.float64(0.1)"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "INF" if number > 0 else "-INF"
    return repr(number)


def utf8_text(text: str) -> str:
    """A string orjson can write. Undecodable bytes in argv or paths arrive as lone surrogates, which
    orjson refuses (losing the whole document): they become \\xNN escapes, other lone surrogates \\uNNNN."""
    text = str.__str__(text)  # a str subclass may override encode() or __len__
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def _integer(value: int) -> Any:
    """xsd:long or xsd:integer digits. int's own methods, not the value's: an int subclass (an IntEnum,
    a user type) may print as a name or override comparisons."""
    number = int.__int__(value)
    try:
        digits = int.__repr__(number)
    except ValueError:  # beyond Python's 4300-digit conversion limit
        return f"<integer of {number.bit_length()} bits>"
    return {"$": digits, "type": "xsd:long" if _LONG_MIN <= number <= _LONG_MAX else "xsd:integer"}


def typed(value: Any) -> Any:
    """Convert a Python value to its PROV-JSON form. Unknown objects become their (bounded) repr."""
    if isinstance(value, QName):
        return {"$": str(value), "type": "xsd:QName"}
    if isinstance(value, str):
        return utf8_text(value)
    if isinstance(value, bool):
        return {"$": "true" if value else "false", "type": "xsd:boolean"}
    if isinstance(value, int):
        return _integer(value)
    if isinstance(value, float):
        return {"$": format_double(float.__float__(value)), "type": "xsd:double"}
    if isinstance(value, _dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
        return {"$": aware.isoformat(), "type": "xsd:dateTime"}
    return bounded_repr(value)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # default reprs: "<function <lambda> at 0x7f...>"


def bounded_repr(value: Any, limit: int = 1000) -> str:
    """repr() that survives hostile objects and never grows a document without bound. Memory addresses are
    left out: they differ from run to run and would make equal settings look changed."""
    try:
        text = utf8_text(value if isinstance(value, str) else _ADDRESS.sub("", repr(value)))
    except Exception as exc:  # a user's __repr__ may raise
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def attribute_key(key: str) -> str:
    """Keys without a prefix belong to the prov4ml vocabulary. Cached: every epoch's record repeats the
    same keys, and the regular expression was most of the cost of writing one (a str subclass becomes a
    plain str first, so no user ``__hash__`` runs)."""
    return _attribute_key(str.__str__(key))


@functools.lru_cache(maxsize=4096)
def _attribute_key(key: str) -> str:
    if ":" in key:
        prefix, _, rest = key.partition(":")
        return f"{prefix}:{local_name(rest)}"
    return "prov4ml:" + local_name(key)


def typed_attributes(attributes: Mapping[str, Any]) -> dict:
    return {attribute_key(key): typed(value) for key, value in attributes.items() if value is not None}


class Document:
    """A PROV-JSON document under construction. Adding a record twice merges its attributes."""

    def __init__(self, prefixes: Mapping[str, str], listener: Listener | None = None) -> None:
        self.prefixes = dict(prefixes)
        self._records: dict[str, dict[str, dict]] = {}
        self._listener = listener
        self._blank = 0

    def set_listener(self, listener: Listener | None) -> None:
        self._listener = listener

    def entity(self, ident: str, attributes: Mapping[str, Any] | None = None) -> str:
        return self._put("entity", ident, typed_attributes(attributes or {}))

    def agent(self, ident: str, attributes: Mapping[str, Any] | None = None) -> str:
        return self._put("agent", ident, typed_attributes(attributes or {}))

    def activity(
        self, ident: str, attributes: Mapping[str, Any] | None = None,
        start: float | None = None, end: float | None = None,
    ) -> str:
        record = typed_attributes(attributes or {})
        if start is not None:
            record["prov:startTime"] = format_time(start)
        if end is not None:
            record["prov:endTime"] = format_time(end)
        return self._put("activity", ident, record)

    def relation(
        self, kind: str, formal: Mapping[str, str], attributes: Mapping[str, Any] | None = None,
        time: float | None = None,
    ) -> str:
        """Add a relation with a fresh blank id; ``formal`` holds e.g. prov:activity / prov:entity."""
        self._blank += 1
        record = dict(formal)
        record.update(typed_attributes(attributes or {}))
        if time is not None:
            record["prov:time"] = format_time(time)
        return self._put(kind, f"_:{kind[:3]}{self._blank}", record)

    def has(self, kind: str, ident: str) -> bool:
        return ident in self._records.get(kind, {})

    def get(self, kind: str, ident: str) -> dict | None:
        return self._records.get(kind, {}).get(ident)

    def apply(self, kind: str, ident: str, record: dict) -> None:
        """Merge an already-typed record (used when replaying a journal): later relations are numbered after
        the blank ids replayed."""
        self._merge(kind, ident, record)
        if ident.startswith("_:"):
            self._blank = max(self._blank, _blank_number(ident))

    def _merge(self, kind: str, ident: str, record: dict) -> None:
        self._records.setdefault(kind, {}).setdefault(ident, {}).update(record)

    def _put(self, kind: str, ident: str, record: dict) -> str:
        self._merge(kind, ident, record)
        if self._listener is not None:
            self._listener(kind, ident, record)
        return ident

    def records(self, kind: str) -> dict[str, dict]:
        return self._records.get(kind, {})

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"prefix": dict(self.prefixes)}
        for kind in RECORD_KINDS + RELATION_KINDS:
            if self._records.get(kind):
                out[kind] = self._records[kind]
        return out


def _blank_number(ident: str) -> int:
    match = re.search(r"(\d+)$", ident)
    return int(match.group(1)) if match else 0

