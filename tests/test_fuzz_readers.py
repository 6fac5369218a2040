"""The readers (``prov4ml validate``, ``recover``, ``merge``) on malformed input: never a traceback.

Unreadable input is exit 2 with a one-line message; what parses is judged (validate: 0 or 1; recover and
merge: a document that passes the profile checks, or exit 2 without writing one).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import prov4ml
from prov4ml_auto import merge, recover, validate
from prov4ml_auto.document import PROV4ML_NS, RUN_NS_ROOT

FUZZ = settings(max_examples=150, deadline=None)


def dumps(value) -> bytes:
    """JSON text, integers beyond 64 bits included (orjson refuses them)."""
    return json.dumps(value).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
HEADER = {"prov4ml_journal": 1, "prefix": {"run": "https://w3id.org/prov4ml-auto/run/x/"}, "run": "run:run",
          "document": "prov.json"}
KINDS = st.sampled_from(["entity", "activity", "agent", "used", "wasGeneratedBy", "prefix", "bundle", "nonsense"])
IDS = st.sampled_from(["run:run", "run:x", "_:u1", "x", "prov:y", "run:a b", ""]) | st.text(max_size=8)
TIMES = st.sampled_from(["2025-01-15T10:00:00+00:00", "2025-01-15T10:00:00", "9999-12-31T23:59:59-23:59", "soon"])
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["prov:startTime", "prov:endTime", "prov:time", "prov:type", "prov4ml:n", "prov:activity",
                     "prov:entity"]) | st.text(max_size=8),
    TIMES | json_values | st.fixed_dictionaries({"$": st.text(max_size=6), "type": st.sampled_from(
        ["xsd:long", "xsd:double", "xsd:QName", "xsd:boolean", "xsd:dateTime", "nope"])}),
    max_size=4,
)
HOSTILE_LINES = st.one_of(
    st.tuples(KINDS, IDS, ATTRIBUTES).map(lambda change: dumps(list(change))),
    st.fixed_dictionaries({"t": st.floats(-1e12, 1e13) | st.integers(-(2**70), 2**70) | json_values}).map(dumps),
    json_values.map(dumps),
    st.binary(max_size=40),
)
SANE_LINES = st.one_of(
    st.integers(0, 5).map(lambda n: dumps(["entity", f"run:e{n}", {"prov4ml:n": {"$": str(n), "type": "xsd:long"}}])),
    st.just(dumps(["activity", "run:run", {"prov:startTime": "2025-01-15T10:00:00+00:00"}])),
    st.floats(1.0e9, 1.7e9).map(lambda moment: dumps({"t": moment})),  # long past: not running
    st.binary(max_size=40).filter(lambda line: not line.strip().startswith((b"[", b"{"))),  # torn or garbage
)


# RFC 3339 times as a writer may spell them: the validator accepts them all, so merge must read them all
TIME_TEXT = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23), st.integers(0, 59),
    st.integers(0, 59), st.sampled_from(["", ".5", ".123456", ".123456789"]),
    st.sampled_from(["Z", "+00:00", "-23:59", "+14:00", "+05:30"]),
)


@st.composite
def member_documents(draw, member: str) -> bytes:
    """A process document as merge expects one (its run namespace matches its file name), with odd but
    valid times and file entities, or bytes that are not one at all."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=60) | json_values.map(dumps))
    run = {"prov4ml:runId": draw(st.sampled_from(["job-1", "job-2"]))}
    for key in ("prov:startTime", "prov:endTime"):
        if draw(st.booleans()):
            run[key] = draw(TIME_TEXT)
    namespace = RUN_NS_ROOT + "job-1/" + (member + "/" if member else "")
    document = {"prefix": {"prov4ml": PROV4ML_NS, "run": namespace,
                           "sha256": "https://w3id.org/prov4ml-auto/sha256/"},
                "activity": {"run:run": run}}
    digest = draw(st.sampled_from(["a" * 64, "b" * 64]))
    if draw(st.booleans()):
        document["entity"] = {f"sha256:{digest}": {"prov4ml:path": draw(st.sampled_from(["/a", "/b"]))}}
    return dumps(document)


def quietly(main, argument: str) -> tuple[int, str]:
    """Run a reader's main in-process; return its status and what it wrote to stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main([argument])
    return status, err.getvalue()


def in_file(data: bytes, folder: str, name: str) -> str:
    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def is_json_object(data: bytes) -> bool:
    try:
        return isinstance(validate.load_strict(data), dict)
    except validate.DocumentReadError:
        return False


@FUZZ
@given(st.binary(max_size=300) | json_values.map(dumps))
def test_validate_reads_anything(data):
    with tempfile.TemporaryDirectory() as folder:
        status, err = quietly(validate.main, in_file(data, folder, "doc.json"))
    if is_json_object(data):
        assert status in (0, 1)
    else:
        assert status == 2 and err.count("\n") == 1


@FUZZ
@given(st.binary(max_size=300))
def test_recover_reads_any_bytes(data):
    with tempfile.TemporaryDirectory() as folder:
        status, err = quietly(recover.main, in_file(data, folder, "prov.journal.jsonl"))
        written = os.path.exists(os.path.join(folder, "prov.json"))
    assert status in (0, 2) and not written
    assert status == 0 or err.count("\n") == 1


def recover_journal(data: bytes) -> tuple[int, str, dict | None]:
    """``prov4ml recover`` on a journal holding ``data``: status, stderr and the document it wrote."""
    with tempfile.TemporaryDirectory() as folder:
        status, err = quietly(recover.main, in_file(data, folder, "prov.journal.jsonl"))
        document = os.path.join(folder, "prov.json")
        if not os.path.exists(document):
            return status, err, None
        with open(document, "rb") as handle:
            return status, err, orjson.loads(handle.read())


@FUZZ
@given(st.lists(SANE_LINES, max_size=12))
def test_recover_skips_torn_and_garbage_lines(lines):
    status, err, document = recover_journal(b"\n".join([dumps(HEADER), *lines]))
    assert status == 0 and document is not None, err
    assert validate.validate_document(document) == []
    assert document["activity"]["run:run"]["prov4ml:status"] == "interrupted"


@FUZZ
@given(header=st.just(HEADER) | st.dictionaries(st.sampled_from(list(HEADER)), json_values),
       lines=st.lists(SANE_LINES | HOSTILE_LINES, max_size=12))
def test_recover_reads_any_journal_shaped_input(header, lines):
    status, err, document = recover_journal(b"\n".join([dumps(header), *lines]))
    assert status in (0, 2) and (status == 0 or document is None), err  # 0 and none: a run left alone
    assert document is None or validate.validate_document(document) == []
    assert status == 0 or err.count("\n") == 1, err


def test_the_command_line_never_shows_a_traceback(tmp_path):
    garbage = in_file(b"\x89PNG\r\n\x1a\n\x00garbage", str(tmp_path), "prov.journal.jsonl")
    odd_name = os.fsdecode(str(tmp_path).encode() + b"/missing\n\xff")  # a newline and a non-UTF-8 byte
    for tool in ("validate", "recover"):
        for path in (garbage, odd_name):
            done = prov4ml(tool, path)
            assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
            assert "Traceback" not in done.stderr


@FUZZ
@given(st.data(), st.lists(st.sampled_from(["", "rank0", "rank1", "pid7"]), min_size=1, max_size=3, unique=True))
def test_merge_reads_any_documents(data, members):
    with tempfile.TemporaryDirectory() as folder:
        for member in members:
            in_file(data.draw(member_documents(member)), folder, f"prov.{member}.json" if member else "prov.json")
        status, err = quietly(lambda folders: merge.main(folders, None), folder)
        merged = os.path.join(folder, merge.MERGED_NAME)
        written = os.path.exists(merged)
        if written:
            with open(merged, "rb") as handle:
                assert validate.validate_document(orjson.loads(handle.read())) == []
    assert (status, written) in ((0, True), (2, False))
    assert status == 0 or err.count("\n") == 1, err
