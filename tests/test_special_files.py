"""Every reader refuses a FIFO or a device at once (issue 14, follow-up of 30).

A FIFO given where a file belongs made ``link``, ``inspect``, ``report --config`` and the audit
log wait forever (a blocking open); ``/dev/zero`` behind a symlink made ``report --config`` read
until memory ran out. Each reader below is called on both, in a thread with a time limit: it
must end in one factlab error naming the file and what it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hang_helpers import finishes

from factlab.analysis.link import link
from factlab.audit import audited, read_audit_log
from factlab.disclosure.rules import load_rules
from factlab.errors import FactlabError, InputError
from factlab.estimation.base_table import read_counts_table
from factlab.estimation.corrections import load_corrections
from factlab.estimation.unseen import read_unseen
from factlab.io import read_toml
from factlab.keys.recipients import load_recipient_private, load_recipient_public
from factlab.keys.round_keys import load_key, read_key_header
from factlab.keys.seal import is_sealed
from factlab.manifest import read_manifest
from factlab.report.config import load_round_config
from factlab.result_files import read_json, read_table
from factlab.steward.contract import load_contract
from factlab.steward.mapping import load_mapping

#: reader, and the file name it is given (the extension some readers go by)
READERS: list[tuple[str, Callable[[Path], object], str]] = [
    ("read_toml", lambda p: read_toml(p, what="mapping file"), "m.toml"),
    ("load_mapping", load_mapping, "mapping.toml"),
    ("load_contract", load_contract, "contract.toml"),
    ("load_corrections", load_corrections, "corrections.toml"),
    ("load_rules", load_rules, "rules.toml"),
    ("load_round_config", load_round_config, "round.toml"),
    ("load_key", load_key, "round.key"),
    ("read_key_header", read_key_header, "provider.key"),
    ("load_recipient_public", load_recipient_public, "ttp.pub"),
    ("load_recipient_private", load_recipient_private, "ttp.recipient.key"),
    ("read_table csv", read_table, "counts.csv"),
    ("read_table parquet", read_table, "counts.parquet"),
    ("read_table json", read_table, "counts.json"),
    ("read_counts_table", read_counts_table, "counts.csv"),
    ("read_json", read_json, "estimate.json"),
    ("read_unseen", read_unseen, "unseen.json"),
    ("read_manifest", read_manifest, "P01.parquet"),
    ("link", lambda p: link([p], p.with_name("linked.parquet")), "P01.parquet"),
    ("link sealed", lambda p: link([p], p.with_name("linked.parquet")), "P01.sealed"),
    ("read_audit_log", read_audit_log, "audit.jsonl"),
]


def special(tmp_path: Path, name: str, kind: str) -> Path:
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    return path


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize(
    ("reader", "name"), [(r, n) for _, r, n in READERS], ids=[i for i, _, _ in READERS]
)
def test_a_fifo_or_device_is_refused_at_once(
    tmp_path: Path, reader: Callable[[Path], object], name: str, kind: str
) -> None:
    path = special(tmp_path, name, kind)
    error = finishes(lambda: reader(path))
    assert isinstance(error, FactlabError), repr(error)
    what = "a FIFO (named pipe)" if kind == "fifo" else "a device"
    assert str(error).startswith(f"{path}: {what}, not a file"), str(error)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_is_sealed_does_not_wait_on_a_fifo(tmp_path: Path, kind: str) -> None:
    path = special(tmp_path, "P01.sealed", kind)
    answers: list[bool] = []
    assert finishes(lambda: answers.append(is_sealed(path))) is None
    assert answers == [False]


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_an_audit_log_that_is_no_file_is_refused(tmp_path: Path, kind: str) -> None:
    # a FIFO waited for a reader forever; a device (/dev/zero, /dev/null) swallowed every line
    log = special(tmp_path, "audit.jsonl", kind)
    ran: list[bool] = []

    def command() -> None:
        with audited("demo", output=tmp_path / "out.json", log=log):
            ran.append(True)

    error = finishes(command)
    assert isinstance(error, InputError)
    what = "a FIFO (named pipe)" if kind == "fifo" else "a device"
    assert str(error) == f"{log}: {what}, not a file; the audit log must be a file"
    assert ran == []


def test_a_fifo_with_a_reader_is_refused_as_an_audit_log(tmp_path: Path) -> None:
    # with a reader the open succeeds: the type is checked on the opened descriptor
    log = special(tmp_path, "audit.jsonl", "fifo")
    reader = os.open(log, os.O_RDONLY | os.O_NONBLOCK)
    try:
        error = finishes(lambda: audited("demo", log=log).__enter__())
    finally:
        os.close(reader)
    assert isinstance(error, InputError)
    assert str(error).endswith("not a file; the audit log must be a file")


def test_a_configuration_file_is_read_up_to_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    with path.open("wb") as handle:
        handle.write(b"version = 1\n")
        handle.truncate(16 * 1024 * 1024 + 1)  # sparse: takes no disk
    with pytest.raises(InputError, match=r"larger than 16 MiB, more than any mapping file"):
        load_mapping(path)
