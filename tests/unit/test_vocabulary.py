"""Each vocabulary has one owner, and everything that lists its words reads them from there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netprobe import causes, stops
from netprobe.cli import app
from netprobe.clients.registry import client_names
from netprobe.servers.registry import backend_names
from netprobe.stops import StopReason
from netprobe.vocabulary import Format, Word

PACKAGE = Path(__file__).resolve().parents[2] / "netprobe"
DOCS = PACKAGE.parent / "docs"


def test_stop_reason_words_are_spelled_in_the_vocabulary_only():
    # Reasons that are ordinary words ("timeout", "memory", "other") also name dict keys and options.
    distinctive = [r.value for r in StopReason if "_" in r.value or r.value in ("backlog", "refused")]
    spelled = re.compile(r"[\"']({})[\"']".format("|".join(distinctive)))
    writers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if spelled.search(p.read_text("utf-8")))
    assert writers == ["stops.py"]


def test_words_compare_and_serialise_as_their_values():
    import json

    assert StopReason.FD_LIMIT == "fd_limit" and f"{StopReason.FD_LIMIT}" == "fd_limit"
    assert json.dumps({"reason": StopReason.SELECT_LIMIT}) == '{"reason": "select_limit"}'
    with pytest.raises(ValueError, match="--thing must be one of"):
        StopReason.parse("nonsense", "--thing")
    assert issubclass(StopReason, Word)


@pytest.mark.parametrize("os_name", ["linux", "darwin", "windows", "posix"])
def test_every_stop_reason_is_one_record_with_a_remedy_on_every_platform(os_name):
    assert [kind.reason for kind in stops.KINDS] == list(StopReason)
    for reason in StopReason:
        text = stops.remedy(reason, os_name, "server", 1024)
        assert text and "{" not in text, f"{reason} on {os_name}: {text}"


@pytest.mark.parametrize("command, option, names", [
    (["serve"], "--backend", backend_names()),
    (["ramp"], "--backend", (*backend_names(), "all")),
    (["bench", "transfer"], "--backend", backend_names()),
    (["ramp"], "--client", client_names()),
    (["bench", "echo"], "--client", client_names()),
])
def test_every_registered_name_is_a_choice_in_help(command, option, names):
    import typer

    group = typer.main.get_command(app)
    cmd = group
    for word in command:
        cmd = cmd.commands[word]
    param = next(p for p in cmd.params if option in p.opts)
    assert tuple(param.type.choices) == tuple(names)
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and option in result.output


def test_every_registered_backend_and_client_is_in_the_docs():
    backends = (DOCS / "backends.md").read_text("utf-8")
    for name in backend_names():
        assert f"| `{name}`" in backends, f"docs/backends.md has no table row for backend {name}"
    ramp = (DOCS / "ramp.md").read_text("utf-8")
    for name in client_names():
        assert f"| `--client {name}` |" in ramp, f"docs/ramp.md has no table row for client model {name}"


def test_the_stop_reason_table_of_the_docs_is_the_records():
    doc = (DOCS / "ramp.md").read_text("utf-8")
    assert stops.docs_table() in doc, "docs/ramp.md's stop table is stale: run python -m netprobe.stops"


def test_the_knee_cause_table_of_the_docs_is_the_records():
    doc = (DOCS / "traffic.md").read_text("utf-8")
    assert causes.causes_table() in doc, "docs/traffic.md's cause table is stale: causes.causes_table()"
    assert [kind.cause for kind in causes.CAUSES] == list(causes.StopCause)


def test_the_probe_table_of_the_docs_is_the_registry():
    from netprobe import probes

    doc = (DOCS / "ramp.md").read_text("utf-8")
    assert probes.docs_table() in doc, "docs/ramp.md's probe table is stale: run python -m netprobe.probes"


def test_a_garbled_probe_in_an_arriving_order_is_a_record_error_not_bad_input():
    from netprobe import probes
    from netprobe.errors import RecordError

    with pytest.raises(RecordError):
        probes.probe_of("hex:zz")


def test_every_output_format_has_a_renderer_and_the_help_names_it():
    from netprobe.render import DOCUMENT_RENDERERS

    assert set(DOCUMENT_RENDERERS) | {Format.JSON} == set(Format)
    result = CliRunner().invoke(app, ["limits", "--help"], env={"COLUMNS": "300"})
    for fmt in Format:
        assert fmt.value in result.output


def test_the_json_contract_lists_every_stop_reason_and_the_ok_rule_the_records_give():
    doc = (DOCS / "json.md").read_text("utf-8")
    listed = next(line for line in doc.splitlines() if line.startswith("| `stop.reason` |"))
    assert ", ".join(f"`{r.value}`" for r in stops.StopReason) in listed.replace(" or ", ", ")
    ok_row = next(line for line in doc.splitlines() if line.startswith("| `ok` | bool | with `--to`"))
    no_wall = [r for r in stops.StopReason if not stops.finds_wall(r)]
    assert " and ".join([", ".join(f"`{r.value}`" for r in no_wall[:-1]), f"`{no_wall[-1].value}`"]) in ok_row
