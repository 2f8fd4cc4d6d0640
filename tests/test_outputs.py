"""How outputs are written (factlab.outputs and io's writers): checks before any work, no output
over an input, no replacement without asking, no race, stale temporaries swept, one-line
operating-system errors, text a spreadsheet would run made inert (issue 14: 6, 7, 12, 17, 24)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import factlab.io
import factlab.outputs
from factlab.errors import InputError
from factlab.io import atomic_path, sidecar_path, write_exclusive, write_parquet
from factlab.manifest import Manifest
from factlab.outputs import (
    FORMULA_PREFIX,
    check_output,
    csv_safe,
    held_outputs,
    new_temporary,
    same_file,
    sweep_stale,
    uncsv_safe,
)
from factlab.result_files import read_table, write_json, write_table


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- rule 1: checks --------------------------------------------------------------------------


def test_an_input_is_never_an_output_not_even_through_a_link(tmp_path: Path) -> None:
    source = tmp_path / "linked.parquet"
    source.write_bytes(b"the linked file")
    (tmp_path / "sub").mkdir()
    symbolic = tmp_path / "symbolic.parquet"
    symbolic.symlink_to(source)
    hard = tmp_path / "hard.parquet"
    os.link(source, hard)
    for target in (source, tmp_path / "sub" / ".." / "linked.parquet", symbolic, hard):
        with pytest.raises(InputError, match="is also an input"):
            check_output(target, inputs=[source], overwrite=True)
        with (
            pytest.raises(InputError, match="is also an input"),
            atomic_path(target, inputs=[source], overwrite=True) as temporary,
        ):
            temporary.write_bytes(b"counts")
    assert source.read_bytes() == b"the linked file"
    assert temporaries(tmp_path) == []


def test_an_input_tables_sidecar_is_an_input_too(tmp_path: Path) -> None:
    counts = tmp_path / "counts.csv"
    write_table(pl.DataFrame({"n": [1]}), counts, {"exact": True}, "factlab.x")
    before = sidecar_path(counts).read_bytes()
    with pytest.raises(InputError, match="is also an input"):
        write_json(sidecar_path(counts), {"rows": []}, inputs=[counts], overwrite=True)
    with pytest.raises(InputError, match="is also an input"):
        write_table(pl.DataFrame({"n": [2]}), counts, {}, "factlab.x", inputs=[counts])
    assert sidecar_path(counts).read_bytes() == before


def test_existing_outputs_are_replaced_only_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("earlier")
    with pytest.raises(InputError, match=r"exists \(use --force to overwrite\)"):
        write_json(out, {"a": 1}, overwrite=False)
    assert out.read_text() == "earlier"
    write_json(out, {"a": 1}, overwrite=True)
    assert '"a": 1' in out.read_text()


def test_a_dangling_symbolic_link_is_an_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.symlink_to(tmp_path / "nowhere")
    with pytest.raises(InputError, match="symbolic link to nothing"):
        write_json(out, {"a": 1}, overwrite=False)
    assert out.is_symlink()
    assert not (tmp_path / "nowhere").exists()


def test_a_folder_and_a_missing_folder_are_named(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match="folder: is a folder"):
        write_json(tmp_path / "folder", {})
    with pytest.raises(InputError, match="the output folder does not exist"):
        write_json(tmp_path / "missing" / "out.json", {})


def test_same_file() -> None:
    assert same_file("a/../b.csv", "b.csv")
    assert not same_file("a.csv", "b.csv")
    assert not same_file("a\0b", "a")  # a NUL byte is no path, and no crash


# --- rule 2: temporaries ---------------------------------------------------------------------


def _killed_writer(target: Path) -> Path:
    """A process that made a temporary for ``target`` and was killed (kill -9) before renaming."""
    code = (
        "import os, signal, sys\n"
        "from factlab.outputs import new_temporary\n"
        "descriptor, path = new_temporary(sys.argv[1])\n"
        "os.write(descriptor, b'partial rows')\n"
        "print(path, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=False
    )
    assert done.returncode == -9, done.stderr
    left = Path(done.stdout.strip())
    assert left.exists()
    assert left.name.startswith(f".{target.name}.")
    return left


def test_a_killed_writers_temporary_is_swept_when_the_target_is_written_again(
    tmp_path: Path,
) -> None:
    target = tmp_path / "P01.parquet"
    left = _killed_writer(target)
    other = tmp_path / ".other.parquet.0000.tmp"
    other.write_bytes(b"not ours")
    descriptor, live = new_temporary(target)  # a writer that is still running: this process
    os.close(descriptor)
    write_json(target, {"rows": 1})
    assert not left.exists()
    assert live.exists()
    assert other.exists()


def test_old_style_temporaries_are_swept_only_when_older_than_this_run(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    old = tmp_path / ".out.csv.ab12cd_9.tmp"
    new = tmp_path / ".out.csv.zz12cd_9.tmp"
    old.write_bytes(b"partial")
    new.write_bytes(b"partial")
    os.utime(old, (0, 0))
    assert sweep_stale(target) == [old]
    assert new.exists()


def test_temporaries_name_their_writer(tmp_path: Path) -> None:
    descriptor, path = new_temporary(tmp_path / "x.csv")
    os.close(descriptor)
    assert f"-{os.getpid()}." in path.name
    assert path.name.endswith(".tmp")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


# --- rule 3: publication ---------------------------------------------------------------------


def _race(out: Path) -> None:
    """Write ``out`` without replacing a file, while another run finishes it first."""
    with atomic_path(out, overwrite=False) as temporary:
        temporary.write_text("mine")
        out.write_text("the other run's")


def test_a_file_that_appears_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "counts.json"
    with pytest.raises(InputError, match="appeared while this command ran"):
        _race(out)
    assert out.read_text() == "the other run's"
    assert temporaries(tmp_path) == []


def test_without_hard_links_the_name_is_checked_then_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(factlab.outputs.os, "link", no_links)
    out = tmp_path / "out.json"
    write_json(out, {"a": 1}, overwrite=False)
    assert '"a": 1' in out.read_text()
    other = tmp_path / "other.json"
    with pytest.raises(InputError, match="appeared"):
        _race(other)
    assert other.read_text() == "the other run's"
    assert temporaries(tmp_path) == []


# --- rule 4: held outputs --------------------------------------------------------------------


def test_held_outputs_appear_together_or_not_at_all(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    with held_outputs() as held:
        write_json(first, {"a": 1})
        write_exclusive(second, b"{}", mode=0o600)
        assert not first.exists()
        assert not second.exists()
        assert held.targets() == [first, second]
        held.publish()
    assert first.exists()
    assert second.exists()

    third = tmp_path / "c.json"

    def failing_command() -> None:
        with held_outputs():
            write_json(third, {"c": 1})
            raise RuntimeError("the command failed after writing")

    with pytest.raises(RuntimeError):
        failing_command()
    assert not third.exists()
    assert temporaries(tmp_path) == []


def test_held_outputs_take_back_what_they_published_when_one_fails(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"

    def command() -> None:
        with held_outputs(overwrite=False) as held:
            write_json(first, {"a": 1})
            write_json(second, {"b": 1})
            second.write_text("someone else's")
            held.publish()

    with pytest.raises(InputError, match="appeared"):
        command()
    assert not first.exists()
    assert second.read_text() == "someone else's"
    assert temporaries(tmp_path) == []


def test_an_output_written_twice_is_refused(tmp_path: Path) -> None:
    def command() -> None:
        with held_outputs():
            write_json(tmp_path / "a.json", {})
            write_json(tmp_path / "." / "a.json", {})

    with pytest.raises(InputError, match="written twice"):
        command()
    assert temporaries(tmp_path) == []


# --- operating-system errors -----------------------------------------------------------------


def test_a_full_disk_is_one_line_with_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: pl.DataFrame, *args: object, **kwargs: object) -> None:
        raise OSError("No space left on device (os error 28)")  # as Polars raises it

    monkeypatch.setattr(pl.DataFrame, "write_csv", full)
    out = tmp_path / "table.csv"
    with pytest.raises(InputError) as raised:
        write_table(pl.DataFrame({"n": [1]}), out, {}, "factlab.x")
    assert str(raised.value) == f"{out}: cannot be written (No space left on device)"
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_streaming_parquet_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: pl.LazyFrame, *args: object, **kwargs: object) -> None:
        raise pl.exceptions.ComputeError(
            "parquet: File out of specification: underlying IO error: "
            "No space left on device (os error 28)"
        )

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", full)
    out = tmp_path / "p.parquet"
    manifest = Manifest(
        format="factlab-linked",
        scheme="s",
        round="r",
        key_id="k",
        key_fingerprint="f",
        rows=1,
        rows_by_status={"valid": 1},
    )
    with pytest.raises(InputError, match=r"p.parquet: cannot be written \(No space left"):
        write_parquet(pl.LazyFrame({"a": [1]}), out, manifest)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".x"))

    monkeypatch.setattr(factlab.outputs.tempfile, "mkstemp", refused)
    with pytest.raises(InputError, match=r"cannot be written \(Permission denied\)"):
        write_json(tmp_path / "out.json", {})


def test_a_read_only_folder_names_the_output_not_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as tempfile.mkstemp raises it: the error names the temporary it could not make
    def refused(prefix: str = "", suffix: str = "", dir: str = "") -> tuple[int, str]:
        made = os.path.join(dir, f"{prefix}ectzyxds{suffix}")
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), made)

    monkeypatch.setattr(factlab.outputs.tempfile, "mkstemp", refused)
    out = tmp_path / "x.parquet"
    manifest = Manifest(
        format="factlab-linked",
        scheme="s",
        round="r",
        key_id="k",
        key_fingerprint="f",
        rows=1,
        rows_by_status={"valid": 1},
    )
    for write in (
        lambda: write_json(tmp_path / "x.json", {}),
        lambda: write_parquet(pl.DataFrame({"a": [1]}), out, manifest),
        lambda: write_exclusive(tmp_path / "x.key", b"k", mode=0o600),
    ):
        with pytest.raises(InputError) as error:
            write()
        assert ".tmp" not in str(error.value)
        assert str(error.value).endswith(": cannot be written (Permission denied)")
        assert str(error.value).startswith(str(tmp_path / "x."))


@pytest.mark.parametrize("writer", ["atomic_path", "write_exclusive"])
def test_both_writers_publish_and_fail_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    # one helper publishes for both: the same one line, nothing left, an appeared file kept
    def broken(temporary: Path, target: Path, *, overwrite: bool) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(temporary))

    def write(target: Path) -> None:
        if writer == "write_exclusive":
            write_exclusive(target, b"k", mode=0o600)
            return
        with atomic_path(target, overwrite=False) as temporary:
            temporary.write_bytes(b"k")

    monkeypatch.setattr(factlab.io, "publish", broken)
    target = tmp_path / "out.key"
    with pytest.raises(InputError) as error:
        write(target)
    assert str(error.value) == f"{target}: cannot be written (Input/output error)"
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def appeared(temporary: Path, target: Path, *, overwrite: bool) -> None:
        target.write_bytes(b"the other run's")
        raise FileExistsError(errno.EEXIST, "file exists", str(target))

    monkeypatch.setattr(factlab.io, "publish", appeared)
    expected = FileExistsError if writer == "write_exclusive" else InputError
    with pytest.raises(expected):
        write(target)
    assert target.read_bytes() == b"the other run's"
    assert [p.name for p in tmp_path.iterdir()] == ["out.key"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_a_real_read_only_folder_names_the_output(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError) as error:
            write_json(folder / "x.json", {})
    finally:
        folder.chmod(0o755)
    assert str(error.value) == f"{folder / 'x.json'}: cannot be written (Permission denied)"


def test_reading_errors_inside_the_block_are_not_called_writing_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "out.json"):
        (tmp_path / "missing-input.csv").read_bytes()
    assert temporaries(tmp_path) == []


# --- CSV text a spreadsheet would run --------------------------------------------------------


@pytest.mark.parametrize("prefix", list(FORMULA_PREFIX))
def test_formula_text_gets_a_quote_in_every_table_csv(tmp_path: Path, prefix: str) -> None:
    value = f'{prefix}HYPERLINK("http://example.invalid")'
    frame = pl.DataFrame(
        {
            "municipality": [value, "Assen", None],
            "care_form": pl.Series([value, "ambulant", "x"], dtype=pl.Categorical),
            prefix + "header": [1, 2, 3],
            "change": [-5, 3, 0],  # numbers stay numbers
        }
    )
    out = tmp_path / "table.csv"
    write_table(frame, out, {"exact": True}, "factlab.x")
    raw = pl.read_csv(out, infer_schema=False)
    assert raw["municipality"][0] == "'" + value
    assert raw["care_form"][0] == "'" + value
    assert raw.columns[2] == "'" + prefix + "header"
    assert raw["change"].to_list() == ["-5", "3", "0"]
    for column in raw.columns[:2]:
        assert not raw[column].drop_nulls().str.contains("^[=+\\-@\t\r]").any()
    # factlab reads its own table back exactly
    back, metadata = read_table(out)
    assert back.columns == frame.columns
    assert back["municipality"].to_list() == [value, "Assen", None]
    assert metadata == {"exact": True}


def test_quotes_before_a_formula_round_trip() -> None:
    frame = pl.DataFrame({"label": ["'=x", "''+y", "'plain", "=z", "it's", "'"]})
    safe = csv_safe(frame)
    assert safe["label"].to_list() == ["''=x", "'''+y", "'plain", "'=z", "it's", "'"]
    assert uncsv_safe(safe).equals(frame)


def test_every_csv_writer_uses_the_rule() -> None:
    # A CSV written anywhere but through csv_safe would bypass the rule (issue 14.12).
    package = Path(factlab.io.__file__).parent
    writers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if ".write_csv(" in path.read_text(encoding="utf-8")
    ]
    for name in writers:
        text = (package / name).read_text(encoding="utf-8")
        calls = text.count(".write_csv(")
        safe = text.count("csv_safe(")
        # synth writes imitation provider exports (factlab's inputs, not its outputs)
        assert name == "synth/write.py" or safe >= calls, name
