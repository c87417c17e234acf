"""Property-based fuzzing of what reads untrusted bytes: file sessions and report loading.

Bounded to a few seconds in the suite (``FUZZ_EXAMPLES``); a release check runs them longer with
``NETPROBE_FUZZ_EXAMPLES=20000 python -m pytest tests/unit/test_fuzz.py tests/unit/test_framing.py``
(see docs/backends.md).
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netprobe.errors import ProtocolError, UsageError
from netprobe.protocols import framing
from netprobe.protocols.files import MAX_QUEUED_OUTPUT, FileSession
from netprobe.report import load

FUZZ_EXAMPLES = int(os.environ.get("NETPROBE_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

frame_kinds = st.sampled_from([b"G", b"P", b"D", b"O", b"X", b"Z"])
paths = st.one_of(st.sampled_from([b"hello.txt", b"../x", b"/etc/passwd", b"a\0b", b"\xff", b"dir", b"dir/new"]),
                  st.binary(max_size=40))
frames = st.builds(lambda k, p: framing.encode(k + p), frame_kinds, paths)
streams = st.lists(st.one_of(frames, st.binary(max_size=64)), max_size=40)


@fuzz
@given(streams, st.integers(min_value=1, max_value=4096))
def test_a_file_session_survives_any_stream_and_stays_bounded(tmp_path_factory, chunks, pull_size):
    root = tmp_path_factory.mktemp("root")
    (root / "hello.txt").write_bytes(b"hello\n" * 100)
    (root / "dir").mkdir()
    session = FileSession(str(root), max_file_size=4096)
    try:
        for chunk in chunks:
            if not session.wants_input:
                while session.has_output and session.pull(pull_size):
                    pass
            try:
                session.received(chunk)
            except ProtocolError as exc:
                session.fail(str(exc))
            # What one connection can pin stays bounded, whatever it sends.
            assert session.decoder.buffered <= 3 * framing.MAX_FRAME
            assert len(session._out) <= MAX_QUEUED_OUTPUT + 2 * framing.MAX_FRAME
            if session.closing:
                break
        for _ in range(1000):
            if not session.has_output or not session.pull(pull_size):
                break
    finally:
        session.close()
    leftovers = [p for p in os.listdir(root) if p.startswith(".netprobe-upload-")]
    assert not leftovers
    assert (root / "hello.txt").read_bytes() == b"hello\n" * 100  # a put never lands half-written
    assert (root / "dir").is_dir()


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=30)
ramp_like = st.fixed_dictionaries({"schema": st.just("netprobe.ramp/1"), "platform": json_values, "ok": json_values,
                                   "target": json_values, "reached": json_values, "stop": json_values,
                                   "predicted": json_values})


@fuzz
@given(st.one_of(json_values, ramp_like, st.binary(max_size=200)))
def test_report_loading_accepts_or_refuses_in_one_line(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("r") / "r.json"
    path.write_bytes(document if isinstance(document, bytes) else json.dumps(document).encode())
    try:
        data = load(str(path))
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(data["ok"], bool) and isinstance(data["reached"], int)
