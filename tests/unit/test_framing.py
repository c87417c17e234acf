"""Property tests of the frame decoder: any split parses the same; any bytes parse or fail cleanly."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from netprobe.errors import ProtocolError
from netprobe.protocols import framing
from netprobe.protocols.files import FileSession

bodies = st.lists(st.binary(min_size=1, max_size=300), max_size=20)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


@given(bodies, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_any_split_of_a_valid_stream_parses_the_same(frames, cuts):
    stream = b"".join(framing.encode(b) for b in frames)
    decoder = framing.FrameDecoder()
    out = []
    for piece in _split(stream, cuts):
        out += decoder.feed(piece)
    assert out == frames
    assert decoder.buffered == 0


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=5000), max_size=10))
def test_any_bytes_parse_or_raise_frame_error(data, cuts):
    decoder = framing.FrameDecoder(max_frame=512)
    try:
        for piece in _split(data, cuts):
            for body in decoder.feed(piece):
                assert 0 < len(body) <= 512
    except framing.FrameError:
        pass
    assert decoder.buffered <= len(data)


@settings(max_examples=int(os.environ.get("NETPROBE_FUZZ_EXAMPLES", "200")), deadline=None)
@given(st.binary(max_size=3000))
def test_the_file_session_answers_garbage_with_an_error_never_a_crash(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("root")
    session = FileSession(str(root))
    try:
        session.received(data)
        while session.has_output:
            assert session.pull(65536)
    except ProtocolError:
        pass
    finally:
        session.close()
    assert not [p for p in root.iterdir() if p.name.startswith(".netprobe-upload-")]
