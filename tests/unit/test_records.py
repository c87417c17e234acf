"""Typed records: one encoding, checked on arrival; the RampSpec crosses every process boundary unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import pytest

from netprobe.errors import RecordError
from netprobe.models.ramp import WorkerFailure
from netprobe.ramp.options import RampOptions, build_ramp_spec
from netprobe.ramp_spec import RampSpec
from netprobe.records import Record
from netprobe.servers.registry import BACKENDS
from netprobe.servers.spec import ServerSpec
from netprobe.stops import StopReason
from netprobe.vocabulary import Placement, Verify


@dataclass(frozen=True)
class Sample(Record):
    count: int
    ratio: float
    name: Optional[str] = None
    pairs: list[tuple[str, int]] = field(default_factory=list)
    to: Optional[int] = field(default=None, metadata={"json": "target"})


def test_a_record_survives_json_unchanged():
    sample = Sample(3, 0.5, "x", [("127.0.0.1", 80)], to=7)
    text = sample.to_json()
    assert json.loads(text)["target"] == 7 and "to" not in json.loads(text)
    assert Sample.from_json(text) == sample


@pytest.mark.parametrize("data, problem", [
    ({"ratio": 1.0}, "count: missing"),
    ({"count": "3", "ratio": 1.0}, "count: expected int, got str"),
    ({"count": True, "ratio": 1.0}, "count: expected int, got bool"),
    ({"count": 1, "ratio": None}, "ratio: expected float, got null"),
    ({"count": 1, "ratio": 1.0, "pairs": [["a", 1, 2]]}, "pairs[0]: expected 2 items"),
    ({"count": 1, "ratio": 1.0, "pairs": "no"}, "pairs: expected a list"),
    ([1], "expected an object"),
])
def test_a_record_names_the_first_field_that_does_not_fit(data, problem):
    with pytest.raises(RecordError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        Sample.from_dict(data)


def test_non_finite_numbers_are_refused_on_arrival():
    with pytest.raises(RecordError, match="not JSON|finite"):
        Sample.from_json('{"count": 1, "ratio": NaN}')
    with pytest.raises(RecordError, match="not a finite number"):
        Sample.from_dict({"count": 1, "ratio": float("inf")})


def test_words_are_checked_against_their_vocabulary():
    good = {"reason": "fd_limit", "side": "client", "errno": "EMFILE", "message": "m", "held": 1,
            "in_flight": 0, "remedy": "r"}
    assert WorkerFailure.from_dict(good).reason is StopReason.FD_LIMIT
    with pytest.raises(RecordError, match="reason: 'nonsense' is not one of"):
        WorkerFailure.from_dict({**good, "reason": "nonsense"})


def test_the_ramp_spec_is_built_once_and_round_trips_through_json():
    spec = build_ramp_spec(RampOptions(to=100, backend="asyncio", loop="selector", selector="select",
                                       placement=Placement.THREAD, verify=Verify.CONNECT))
    assert spec.backend is BACKENDS.get("asyncio")  # the registration itself, not its name
    assert spec.selector_class == "SelectSelector" and spec.loop == "selector"
    again = RampSpec.from_json(spec.to_json())
    assert again == spec and again.backend is spec.backend and again.placement is Placement.THREAD
    assert json.loads(spec.to_json())["selector"] == "select"


def test_the_ramp_spec_is_frozen():
    spec = build_ramp_spec(RampOptions(to=10))
    with pytest.raises(AttributeError):
        spec.to = 20  # type: ignore[misc]


def test_a_spec_naming_an_unknown_backend_is_refused_on_arrival():
    data = json.loads(build_ramp_spec(RampOptions(to=10)).to_json())
    with pytest.raises(RecordError, match="backend: .nosuch. is not a backend"):
        RampSpec.from_dict({**data, "backend": "nosuch"})


def test_the_server_child_reads_the_spec_the_ramp_built():
    spec = build_ramp_spec(RampOptions(to=10, backend="selectors", selector="select", ports=2))
    child = spec.server_spec(want_fds=100)
    assert ServerSpec.from_json(child.to_json()) == child
    assert child.options.selector_class == "SelectSelector" and child.ports == 2


@pytest.mark.parametrize("module, spec", [
    ("netprobe.bench.echo_client", '{"host": "127.0.0.1", "port": 9, "clients": "many"}'),
    ("netprobe.bench.transfer_client", '{"host": "127.0.0.1", "port": 9, "clients": 2, "path": "f"}'),
    ("netprobe.bench.models_child", '{"model": "threads", "url": "http://127.0.0.1:9/", "tasks": 1.5}'),
])
def test_a_bench_load_process_refuses_a_spec_that_does_not_fit_before_any_socket(module, spec):
    """The bench commands' load processes read a typed spec, not argv: a wrong field is named on arrival."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", module], input=spec + "\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"{module}: ") and "spec." in done.stderr, done.stderr


def test_garbage_from_a_process_of_the_run_fails_the_run_while_a_users_bad_file_is_bad_input(tmp_path):
    """A child's or peer's garbled answer is exit 1 (the run failed); a malformed file handed to report is exit 2."""
    from netprobe.errors import ChildFailed, ExitStatus, UsageError
    from tests.conftest import run_netprobe

    assert RecordError("the server's first line: missing").exit_status == ExitStatus.RUN_FAILED == 1
    assert ChildFailed("the select ramp failed").exit_status == 1
    assert not issubclass(RecordError, UsageError)
    bad = tmp_path / "ramp.json"
    bad.write_text('{"schema": "netprobe.ramp/1", "ok": "yes"}', encoding="utf-8")
    done = run_netprobe("report", str(bad))
    assert done.returncode == 2 and str(bad) in done.stderr and "Traceback" not in done.stderr
