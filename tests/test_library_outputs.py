"""The library never writes over a file it read, and over no file unless asked (issue 14,
follow-up of 6 and 25).

Only the command line refused: ``pseudonymise_file(..., out=<the mapping file or the key
file>)`` replaced them with Parquet, and ``unseal(B.sealed, out=A.sealed)`` replaced another
sealed delivery with plaintext. A key does not know the file it came from, so the functions
take the key files as ``inputs=`` (the command line passes them); a mapping or contract loaded
from a file is known by its source. Every public function that writes a file refuses an
existing one unless ``overwrite=True``, as every command does without ``--force``. Synthetic
data only: BSNs of the test range.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from factlab.analysis.count_files import write_counts
from factlab.analysis.counts import count
from factlab.analysis.link import link
from factlab.errors import InputError
from factlab.keys.recipients import new_recipient, write_recipient
from factlab.keys.round_keys import load_key
from factlab.keys.seal import seal, unseal
from factlab.steward.mapping import load_mapping
from factlab.steward.pseudonymise import pseudonymise_file

if TYPE_CHECKING:
    from conftest import KeyFiles

EXPORT = "BSN;Gemeente\n999993653;Assen\n999991723;Emmen\n999995078;Assen\n"


def deliver(folder: Path, key_files: KeyFiles, provider: str) -> Path:
    export = folder / f"{provider}.csv"
    export.write_text(EXPORT, encoding="utf-8")
    out = folder / f"{provider}.parquet"
    pseudonymise_file(export, load_key(key_files.provider), provider=provider, out=out)
    return out


def unchanged(path: Path) -> bytes:
    return path.read_bytes()


def test_pseudonymise_file_never_replaces_its_mapping_file(
    tmp_path: Path, key_files: KeyFiles
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(EXPORT, encoding="utf-8")
    mapping_path = tmp_path / "mapping.toml"
    mapping_path.write_text('version = 1\n[columns]\nbsn = "BSN"\n', encoding="utf-8")
    before = unchanged(mapping_path)
    key = load_key(key_files.provider)
    with pytest.raises(InputError, match="is also an input"):
        pseudonymise_file(
            export,
            key,
            provider="P01",
            out=mapping_path,
            mapping=load_mapping(mapping_path),
            overwrite=True,
        )
    assert mapping_path.read_bytes() == before


def test_pseudonymise_file_never_replaces_the_key_file_it_is_told_of(
    tmp_path: Path, key_files: KeyFiles
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(EXPORT, encoding="utf-8")
    before = unchanged(key_files.provider)
    key = load_key(key_files.provider)
    # not even when asked to replace: the key's file is an input
    with pytest.raises(InputError, match="is also an input"):
        pseudonymise_file(
            export,
            key,
            provider="P01",
            out=key_files.provider,
            inputs=[key_files.provider],
            overwrite=True,
        )
    # and by default no existing file is replaced, the key file included
    with pytest.raises(InputError, match=r"exists \(use --force to overwrite\)"):
        pseudonymise_file(export, key, provider="P01", out=key_files.provider)
    assert key_files.provider.read_bytes() == before


def test_pseudonymise_file_replaces_an_output_only_when_asked(
    tmp_path: Path, key_files: KeyFiles
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(EXPORT, encoding="utf-8")
    out = tmp_path / "P01.parquet"
    out.write_bytes(b"an earlier delivery")
    key = load_key(key_files.provider)
    with pytest.raises(InputError, match="exists"):
        pseudonymise_file(export, key, provider="P01", out=out)
    assert out.read_bytes() == b"an earlier delivery"
    pseudonymise_file(export, key, provider="P01", out=out, overwrite=True)
    assert out.read_bytes().startswith(b"PAR1")


def test_unseal_never_replaces_another_sealed_delivery_by_default(
    tmp_path: Path, key_files: KeyFiles
) -> None:
    private, public = new_recipient("ttp")
    recipient, _ = write_recipient(private, tmp_path)
    first, second = tmp_path / "A.sealed", tmp_path / "B.sealed"
    seal(deliver(tmp_path, key_files, "P01"), public, first)
    seal(deliver(tmp_path, key_files, "P02"), public, second)
    delivery = unchanged(first)
    with pytest.raises(InputError, match=r"A.sealed: exists \(use --force to overwrite\)"):
        unseal(second, private, first)
    assert first.read_bytes() == delivery
    # the recipient's key file is never an output, whatever is asked
    key_file = unchanged(recipient)
    with pytest.raises(InputError, match="is also an input"):
        unseal(second, private, recipient, inputs=[recipient], overwrite=True)
    assert recipient.read_bytes() == key_file


def test_seal_never_replaces_the_recipients_key_file(tmp_path: Path, key_files: KeyFiles) -> None:
    private, public = new_recipient("ttp")
    _, public_path = write_recipient(private, tmp_path)
    before = unchanged(public_path)
    source = deliver(tmp_path, key_files, "P01")
    with pytest.raises(InputError, match="is also an input"):
        seal(source, public, public_path, inputs=[public_path], overwrite=True)
    with pytest.raises(InputError, match="exists"):
        seal(source, public, public_path)
    assert public_path.read_bytes() == before


def test_link_never_replaces_its_key_files_and_no_file_unless_asked(
    tmp_path: Path, key_files: KeyFiles
) -> None:
    files = [deliver(tmp_path, key_files, provider) for provider in ("P01", "P02")]
    link_key = load_key(key_files.link)
    before = unchanged(key_files.link)
    with pytest.raises(InputError, match="is also an input"):
        link(files, key_files.link, key=link_key, inputs=[key_files.link], overwrite=True)
    assert key_files.link.read_bytes() == before
    out = tmp_path / "linked.parquet"
    out.write_bytes(b"an earlier linked file")
    with pytest.raises(InputError, match="exists"):
        link(files, out, key=link_key)
    assert out.read_bytes() == b"an earlier linked file"
    link(files, out, key=link_key, overwrite=True)
    assert out.read_bytes() != b"an earlier linked file"


def test_write_counts_replaces_a_file_only_when_asked(tmp_path: Path, key_files: KeyFiles) -> None:
    linked = tmp_path / "linked.parquet"
    link([deliver(tmp_path, key_files, "P01")], linked, key=load_key(key_files.link))
    result = count(linked)
    out = tmp_path / "counts.json"
    out.write_text("earlier counts")
    with pytest.raises(InputError, match="exists"):
        write_counts(result, out)
    assert out.read_text() == "earlier counts"
    write_counts(result, out, overwrite=True)
    assert out.read_text() != "earlier counts"
