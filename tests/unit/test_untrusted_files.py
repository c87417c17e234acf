"""Files the user names (reports, refusal tables, secrets) are read as untrusted: regular files only, bounded."""

from __future__ import annotations

import os
import threading

import pytest

from netprobe.distributed.secret import read_secret
from netprobe.errors import UsageError
from netprobe.refusals import _user_refusals
from netprobe.report import load
from netprobe.untrusted import read_regular_file

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")


def _refusals_from(path: str):
    return _user_refusals.__wrapped__(path)  # uncached: each test reads its own file


READERS = {
    "report": lambda path: load(path),
    "refusals": _refusals_from,
    "secret": lambda path: read_secret(path),
}


@needs_fifo
@pytest.mark.parametrize("reader", READERS)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, reader):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            READERS[reader](str(fifo))
        except UsageError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock it before failing, so nothing is left behind
        with open(fifo, "wb"):
            pass
        thread.join(10)
        pytest.fail(f"the {reader} reader waited on a FIFO")
    assert outcome and "not a regular file" in str(outcome[0])


@pytest.mark.parametrize("reader", READERS)
def test_a_directory_is_refused(tmp_path, reader):
    with pytest.raises(UsageError, match="not a regular file|cannot read"):
        READERS[reader](str(tmp_path))


def test_a_file_over_its_bound_is_refused_unread(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2049)
    with pytest.raises(UsageError, match="larger than 2,048 bytes"):
        read_regular_file(str(big), 2048, "test file")
    assert read_regular_file(str(big), 4096, "test file") == b"x" * 2049


def test_an_oversized_refusal_table_is_refused(tmp_path):
    table = tmp_path / "refusals.json"
    table.write_text("[" + ",".join(['{"said": "x", "server": "s", "setting": "t", "remedy": "r"}'] * 30000) + "]")
    with pytest.raises(UsageError, match="larger than 1 MiB"):
        _refusals_from(str(table))
