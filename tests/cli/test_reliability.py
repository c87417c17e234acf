"""Careless and hostile input at the command line (issue 13): each test is named after its defect.

Outputs are checked before the work and written through what the user named; reports refuse
what would let them lie; numbers must be finite; signals end a run once, with its report.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading

import psutil
import pytest

from netprobe import platform
from netprobe.cli import run
from netprobe.errors import OutputError
from netprobe.output import write_file
from netprobe.stops import StopReason
from netprobe.vocabulary import Side
from tests.conftest import fd_limit_refusal, netprobe_process, run_netprobe, signal_netprobe, skip_unless_root

posix_only = pytest.mark.skipif(not platform.HAS_RLIMIT, reason="POSIX devices, FIFOs and signals")


def _ramp_doc(ok: bool, reached: int, target: int = 1000, system: str = "Linux") -> dict:
    """A whole netprobe.ramp/1 document, written by the records themselves."""
    from netprobe.models import Peak, PlatformInfo, Prediction, RampResult, StopInfo
    from netprobe.ramp_spec import RampSpec

    stop = None if ok else StopInfo(StopReason.FD_LIMIT, Side.SERVER, "EMFILE", "Too many open files", reached,
                                    None, reached + 5, "raise the soft fd limit")
    return RampResult(RampSpec(to=target), ok, target, reached, Peak(None, None, None, None), stop,
                      Prediction("EpollSelector", "process", 251, "fd_limit", "soft limit"), "verdict", [],
                      PlatformInfo(system, "6", "x86_64", "3.12.4", "cpython")).to_dict()


def _put(path, doc) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return str(path)


# --- 4: the CI gate


def test_same_named_files_keep_every_column_and_a_short_ramp_fails(tmp_path, capsys):
    a = _put(tmp_path / "a" / "ramp.json", _ramp_doc(True, 1000))
    b = _put(tmp_path / "b" / "ramp.json", _ramp_doc(False, 251))
    c = _put(tmp_path / "c" / "ramp.json", _ramp_doc(True, 1000))
    assert run(["report", a, b, c, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert len(data["columns"]) == 3 and not data["ok"] and len(data["ramps_short"]) == 1


def test_the_same_file_twice_is_refused(tmp_path, capsys):
    a = _put(tmp_path / "a.json", _ramp_doc(True, 1000))
    b = _put(tmp_path / "b.json", _ramp_doc(True, 1000, system="Darwin"))
    assert run(["report", a, b, a]) == 2
    assert "given twice" in capsys.readouterr().err


def test_a_ramp_that_says_ok_but_fell_short_fails(tmp_path):
    lying = _put(tmp_path / "r.json", _ramp_doc(True, 10))
    assert run(["report", lying]) == 1


# --- 5: outputs are written through, never replaced


@posix_only
def test_output_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    os.symlink(target, link)
    assert run(["limits", "--format", "json", "--output", str(link)]) == 0
    assert link.is_symlink() and json.loads(target.read_text("utf-8"))["schema"] == "netprobe.limits/1"


@posix_only
def test_output_to_a_fifo_writes_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    def read() -> None:
        with open(fifo) as f:
            received.append(f.read())

    reader = threading.Thread(target=read)
    reader.start()
    assert run(["limits", "--format", "json", "--output", str(fifo)]) == 0
    reader.join(10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and json.loads(received[0])["schema"] == "netprobe.limits/1"


@posix_only
@skip_unless_root
def test_output_to_dev_null_leaves_the_device(tmp_path):
    done = run_netprobe("limits", "--output", "/dev/null")
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@posix_only
def test_output_files_follow_the_umask(tmp_path):
    out = tmp_path / "limits.json"
    old = os.umask(0o022)
    try:
        assert run(["limits", "--format", "json", "--output", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644


# --- 8: output paths checked before the work


@pytest.mark.parametrize("argv, message", [
    (["limits", "--output", ""], "--output is empty"),
    (["limits", "--output", "x" * 300 + ".json"], "longer than this filesystem allows"),
    (["limits", "--output", "somewhere/x.json/"], "names a directory"),
    pytest.param(["limits", "--output", "/proc/x.json"], "cannot create files",
                 marks=pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")),
    pytest.param(["ramp", "--to", "10", "--plot", "/proc/x.png"], "--plot",
                 marks=pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")),
    (["ramp", "--to", "10", "--plot", ".png"], "give a .png file name"),
])
def test_unwritable_outputs_are_refused_before_the_work(capsys, argv, message):
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_failure_at_the_end_keeps_the_result_and_says_where(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    path = gone / "r.json"
    gone.rmdir()  # the directory disappears while the run works
    with pytest.raises(OutputError) as caught:
        write_file(str(path), '{"kept": true}')
    kept = str(caught.value).rsplit(" ", 1)[-1]
    try:
        with open(kept) as f:
            assert kept.startswith(tempfile.gettempdir()) and json.load(f) == {"kept": True}
    finally:
        os.unlink(kept)


@posix_only
def test_stdout_that_cannot_be_written_is_one_line(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "netprobe", "limits"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "standard output" in done.stderr


# --- 9, 11, 14: report input


@posix_only
@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_report_refuses_devices(capsys, path):
    assert run(["report", path]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (lambda: {**_ramp_doc(False, 5), "stop": 5}, "stop: expected an object, got int"),
    (lambda: {**_ramp_doc(True, 1000), "ok": "false"}, "ok: expected bool, got str"),
    (lambda: {**_ramp_doc(True, 1000), "reached": "1000"}, "reached: expected int, got str"),
    (lambda: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_report_refuses_documents_of_the_wrong_shape(tmp_path, capsys, content, message):
    doc = content()
    path = tmp_path / "r.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    assert run(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_newline_in_a_field_cannot_break_the_markdown_table(tmp_path, capsys):
    doc = _ramp_doc(False, 5)
    doc["platform"]["machine"] = "x86_64\n\n# injected heading\n| x |"
    path = _put(tmp_path / "r.json", doc)
    assert run(["report", path, "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert "\n# injected" not in out
    assert all(line.startswith(("|", "#", "*")) or not line.strip() for line in out.splitlines())
    # A word of a vocabulary is checked on arrival: an injected stop reason is refused outright.
    doc = _ramp_doc(False, 5)
    doc["stop"]["reason"] = "fd_limit\n\n# injected heading\n| x |"
    assert run(["report", _put(tmp_path / "s.json", doc), "--format", "markdown"]) == 2
    assert "stop.reason" in capsys.readouterr().err


# --- 10, 11: numbers


@pytest.mark.parametrize("argv, message", [
    (["ramp", "--to", "10", "--hold", "nan"], "--hold must be a finite number"),
    (["ramp", "--to", "10", "--hold", "inf"], "--hold must be a finite number"),
    (["ramp", "--to", "10", "--timeout", "nan"], "--timeout must be a finite number"),
    (["ramp", "--to", "10", "--timeout", "inf"], "--timeout must be a finite number"),
    (["bench", "echo", "--duration", "inf"], "--duration must be a finite number"),
    (["bench", "echo", "--duration", "nan"], "--duration must be a finite number"),
    (["bench", "transfer", "--file-size", "1000000000000"], "--file-size must be 1-"),
    (["ramp", "--to", "10", "--placement", "thread", "--fd-limit", "3"], fd_limit_refusal("no fds to work with")),
    (["serve", "--root", "/tmp"], "--root applies to --protocol file"),
    (["ramp", "--to", "10", "--server", "thread", "--target", "127.0.0.1:9"], "cannot apply to --target"),
    (["ramp", "--to", "10", "--selector", "poll", "--target", "127.0.0.1:9"], "cannot apply to --target"),
    (["serve", "--backend", "threads", "--selector", "poll"], "--selector applies to --backend"),
])
def test_numbers_and_options_are_checked_before_the_work(capsys, argv, message):
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


# --- 12: signals


@posix_only
def test_two_quick_sigterms_still_write_the_report_and_leave_nothing(tmp_path):
    out = tmp_path / "r.json"
    status, err, kids = signal_netprobe(["ramp", "--to", "8000", "--step", "400", "--hold", "0.5",
                                         "--format", "json", "--output", str(out)],
                                        (signal.SIGTERM, signal.SIGTERM), timeout=30)
    assert status == 130, err
    assert json.loads(out.read_text("utf-8"))["stop"]["reason"] == "interrupted"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".netprobe-")]
    assert kids and not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kids)


@posix_only
def test_sigterm_to_bench_transfer_leaves_no_temporary_root(tmp_path):
    # A temporary directory of its own: other tests' transfers make their roots in the shared one meanwhile.
    status, err, _ = signal_netprobe(["bench", "transfer", "--clients", "200", "--file-size", "2000000"],
                                     (signal.SIGTERM,), settle=0.5, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert status == 130, err
    assert "interrupted" in err
    assert not [p for p in os.listdir(tmp_path) if p.startswith("netprobe-transfer-")]


@posix_only
def test_serve_into_a_closed_pipe_then_sigterm_exits_0():
    with netprobe_process("serve", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().startswith("127.0.0.1:")
        proc.stdout.close()  # `| head -1`: the reader is gone
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


# A SIGINT whose KeyboardInterrupt Python swallows: raised in a weakref callback (as in the import
# system's module locks, where a Ctrl-C while the CLI loads can land), it is only "ignored".
_LOST_SIGNAL = """
import os, signal, sys, time, weakref
from netprobe.signals import catch_signals
from netprobe.cli import run

class Module:
    pass

catch_signals()
lock = weakref.ref(Module(), lambda _: os.kill(os.getpid(), signal.SIGINT))  # the object dies at once
started = time.monotonic()
status = run(["ramp", "--to", "10", "--step", "10", "--hold", "30", "--quiet"])
print(status, round(time.monotonic() - started, 1), flush=True)
"""


@posix_only
def test_a_signal_whose_keyboard_interrupt_python_swallowed_ends_the_run_before_it_starts_in_one_line():
    done = subprocess.run([sys.executable, "-c", _LOST_SIGNAL], capture_output=True, text=True, timeout=60)
    # It was lost (the script went on to run()), and Python's "Exception ignored" traceback is not shown.
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    *printed, last = done.stdout.splitlines()
    status, took = last.split()
    assert int(status) == 130 and float(took) < 10 and not printed, (done.stdout, done.stderr)  # nothing ran
    assert "netprobe: interrupted" in done.stderr
