"""Two-stage pseudonymisation at linking, sealed deliveries, and the fallback key (issue 6)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import random
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import factlab.cli.trusted  # noqa: F401  (registers ``link`` and ``count``)
from factlab import schema
from factlab.analysis.counts import count
from factlab.analysis.link import link
from factlab.cli import main
from factlab.errors import InputError, KeyFileError, LinkError
from factlab.io import file_sha256
from factlab.keys.recipients import new_recipient
from factlab.keys.round_keys import Key, new_round_key, write_key
from factlab.keys.seal import seal
from factlab.manifest import read_manifest
from factlab.steward.fallback import fallback_report
from factlab.steward.pseudonymise import pseudonymise_file


def _test_range(count: int) -> list[str]:
    """The first proef-valid numbers of the test range 999900000–999999999."""
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    found: list[str] = []
    for number in range(999_900_000, 1_000_000_000):
        digits = str(number)
        if sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0:
            found.append(digits)
            if len(found) == count:
                break
    return found


TEST_RANGE_BSNS = _test_range(40)


def stdlib_stage2(key: Key, stage1: str) -> str:
    subkey = key.stage2_key("bsn").hex().encode()
    return hmac.new(subkey, stage1.encode(), hashlib.sha256).hexdigest()[:32]


def deliver(folder: Path, key: Key, provider: str, bsns: list[str]) -> Path:
    export = folder / f"{provider}.csv"
    rows = "\n".join(f"{bsn};ambulant" for bsn in bsns)
    export.write_text(f"bsn;zorgvorm\n{rows}\n", encoding="utf-8")
    out = folder / f"{provider}.parquet"
    pseudonymise_file(export, key.provider_key(), provider=provider, out=out)
    return out


@pytest.fixture
def round_files(tmp_path: Path) -> tuple[Key, list[Path], list[str]]:
    key = new_round_key("two-stage")
    bsns = list(TEST_RANGE_BSNS[:30])
    files = [
        deliver(tmp_path, key, "A", bsns[:20]),
        deliver(tmp_path, key, "B", [*bsns[10:30], "999993654"]),  # one bad checksum
    ]
    return key, files, bsns


def test_the_linked_file_holds_only_second_stage_pseudonyms(
    round_files: tuple[Key, list[Path], list[str]], tmp_path: Path
) -> None:
    key, files, _ = round_files
    first = pl.concat([pl.read_parquet(path) for path in files])
    manifest = link(files, tmp_path / "linked.parquet", key=key.link_key())
    linked = pl.read_parquet(tmp_path / "linked.parquet")
    assert manifest.stage == 2
    assert read_manifest(tmp_path / "linked.parquet").extra["stages"] == "two-stage"
    expected = [
        None if value is None else stdlib_stage2(key, value) for value in first["pseudonym"]
    ]
    assert linked["pseudonym"].to_list() == expected
    stage1 = set(first["pseudonym"].drop_nulls())
    assert stage1.isdisjoint(set(linked["pseudonym"].drop_nulls()))
    assert linked["pseudonym"].drop_nulls().n_unique() == 30  # same person, same pseudonym


def test_round_key_and_link_key_link_alike_and_a_provider_key_cannot(
    round_files: tuple[Key, list[Path], list[str]], tmp_path: Path
) -> None:
    key, files, _ = round_files
    link(files, tmp_path / "by-round.parquet", key=key)
    link(files, tmp_path / "by-link.parquet", key=key.link_key())
    assert pl.read_parquet(tmp_path / "by-round.parquet").equals(
        pl.read_parquet(tmp_path / "by-link.parquet")
    )
    with pytest.raises(LinkError, match="a provider key cannot link"):
        link(files, tmp_path / "by-provider.parquet", key=key.provider_key())
    assert not (tmp_path / "by-provider.parquet").exists()
    with pytest.raises(KeyFileError, match="cannot make second-stage"):
        key.provider_key().stage2_key()


def test_a_key_of_another_round_is_refused(
    round_files: tuple[Key, list[Path], list[str]], tmp_path: Path
) -> None:
    _, files, _ = round_files
    with pytest.raises(LinkError, match="the key does not belong to the files' round"):
        link(files, tmp_path / "linked.parquet", key=new_round_key("other").link_key())
    assert not (tmp_path / "linked.parquet").exists()


def test_cli_link_refuses_a_provider_key_and_warns_without_a_key(
    round_files: tuple[Key, list[Path], list[str]], tmp_path: Path
) -> None:
    key, files, _ = round_files
    provider_file = tmp_path / "provider.key"
    write_key(key.provider_key(), provider_file)
    runner = CliRunner()
    out = tmp_path / "linked.parquet"
    refused = runner.invoke(
        main, ["link", *map(str, files), "--key", str(provider_file), "--out", str(out)]
    )
    assert refused.exit_code == LinkError.exit_code
    assert "provider key cannot link" in refused.stderr
    assert not out.exists()
    single = runner.invoke(main, ["link", *map(str, files), "--out", str(out)])
    assert single.exit_code == 0, single.output
    assert "single-stage" in single.stderr
    assert read_manifest(out).stage == 1


def test_sealed_deliveries_link_like_plain_ones(
    round_files: tuple[Key, list[Path], list[str]], tmp_path: Path
) -> None:
    key, files, _ = round_files
    private, public = new_recipient("trusted-party")
    sealed = []
    for path in files:
        target = path.with_suffix(".parquet.sealed")
        seal(path, public, target)
        sealed.append(target)
    link(files, tmp_path / "plain.parquet", key=key)
    manifest = link(sealed, tmp_path / "sealed.parquet", key=key, recipient=private)
    assert pl.read_parquet(tmp_path / "sealed.parquet").equals(
        pl.read_parquet(tmp_path / "plain.parquet")
    )
    assert [entry["sealed"] for entry in manifest.inputs] == [True, True]
    # each input's digest is of the file as delivered, never of its decrypted content, which
    # any holder of the provider key could rebuild BSN by BSN for a small delivery
    assert [entry["sha256"] for entry in manifest.inputs] == [file_sha256(p) for p in sealed]
    assert not {file_sha256(p) for p in files} & {entry["sha256"] for entry in manifest.inputs}

    with pytest.raises(LinkError, match="is sealed"):
        link(sealed, tmp_path / "no-recipient.parquet", key=key)
    other, _ = new_recipient("someone-else")
    with pytest.raises(KeyFileError):
        link(sealed, tmp_path / "wrong.parquet", key=key, recipient=other)
    tampered = tmp_path / "tampered.sealed"
    data = bytearray(sealed[1].read_bytes())
    data[-40] ^= 0x01
    tampered.write_bytes(bytes(data))
    with pytest.raises((InputError, KeyFileError)):
        link([sealed[0], tampered], tmp_path / "tampered.parquet", key=key, recipient=private)
    for name in ("no-recipient", "wrong", "tampered"):
        assert not (tmp_path / f"{name}.parquet").exists()


def test_link_decrypts_sealed_inputs_beside_its_output_under_no_name(
    round_files: tuple[Key, list[Path], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not in $TMPDIR, where a killed link left decrypted files (issue 14, defect 8)."""
    import factlab.analysis.link as link_module
    import factlab.keys.seal as seal_module

    key, files, _ = round_files
    private, public = new_recipient("trusted-party")
    deliveries, tmpdir, out_folder = tmp_path / "in", tmp_path / "tmpdir", tmp_path / "out"
    for folder in (deliveries, tmpdir, out_folder):
        folder.mkdir()
    sealed = []
    for path in files:
        seal(path, public, deliveries / f"{path.stem}.sealed")
        sealed.append(deliveries / f"{path.stem}.sealed")
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    real = link_module.unseal_to_temporary
    seen: list[tuple[object, list[str], list[str]]] = []

    @contextlib.contextmanager
    def watched(path: Path, recipient: object, *, folder: object = None) -> Iterator[Path]:
        with real(path, recipient, folder=folder) as plain:  # type: ignore[arg-type]
            names = sorted(entry.name for entry in out_folder.iterdir())
            seen.append((folder, names, sorted(entry.name for entry in tmpdir.iterdir())))
            yield plain

    monkeypatch.setattr(link_module, "unseal_to_temporary", watched)
    link(sealed, out_folder / "linked.parquet", key=key, recipient=private)
    assert [folder for folder, _, _ in seen] == [out_folder, out_folder]
    assert all(in_tmpdir == [] for _, _, in_tmpdir in seen)
    if seal_module._anonymous_file(out_folder) is not None:
        assert all(in_out == [] for _, in_out, _ in seen)  # no name holds a decrypted file
    assert sorted(entry.name for entry in out_folder.iterdir()) == ["linked.parquet"]
    assert list(tmpdir.iterdir()) == []


# --- the fallback key --------------------------------------------------------------------------


def fallback_round(tmp_path: Path, seed: int) -> tuple[Key, list[Path], list[dict[str, str]]]:
    """Two providers; some rows lose their BSN but keep birth date, sex and postcode."""
    rng = random.Random(seed)
    persons = []
    for index, bsn in enumerate(TEST_RANGE_BSNS[:40]):
        persons.append(
            {
                "bsn": bsn,
                "birth_date": (date(2005, 1, 1) + timedelta(days=index * 37)).isoformat(),
                "sex": "MV"[index % 2],
                "postcode": f"94{index % 10:02d}AB",
            }
        )
    # two persons share birth date, sex and postcode: a fallback conflict
    persons[39] |= {k: persons[38][k] for k in ("birth_date", "sex", "postcode")}
    key = new_round_key("fallback")
    rows_per_provider: dict[str, list[dict[str, str]]] = {"A": [], "B": []}
    for person in persons[:38]:
        for provider in rng.sample(["A", "B"], rng.choice([1, 2])):
            lose = rng.random() < 0.3
            rows_per_provider[provider].append(person | {"bsn": "" if lose else person["bsn"]})
    # the two look-alikes are known by BSN at A, and one of them without BSN at B: a conflict
    rows_per_provider["A"] += [persons[38], persons[39]]
    rows_per_provider["B"].append(persons[39] | {"bsn": ""})
    # a person known only without BSN, and one without BSN and without a postcode
    rows_per_provider["B"].append(
        {"bsn": "", "birth_date": "2001-02-03", "sex": "V", "postcode": "9999ZZ"}
    )
    rows_per_provider["B"].append(
        {"bsn": "", "birth_date": "2001-02-04", "sex": "V", "postcode": ""}
    )
    files, all_rows = [], []
    for provider, rows in rows_per_provider.items():
        export = tmp_path / f"{provider}.csv"
        lines = [f"{r['bsn']};{r['birth_date']};{r['sex']};{r['postcode']}" for r in rows]
        export.write_text("bsn;geboortedatum;geslacht;postcode\n" + "\n".join(lines) + "\n")
        out = tmp_path / f"{provider}.parquet"
        pseudonymise_file(
            export,
            key.provider_key(),
            provider=provider,
            out=out,
            fallback=schema.FALLBACK_DEFAULT,
        )
        files.append(out)
        all_rows += rows
    return key, files, all_rows


def oracle(rows: list[dict[str, str]]) -> dict[str, int]:
    """What the fallback key links, in plain Python on the raw rows."""
    triple = lambda r: (r["birth_date"], r["sex"], r["postcode"])  # noqa: E731
    by_bsn = {r["bsn"] for r in rows if r["bsn"]}
    owners: dict[tuple[str, str, str], set[str]] = {}
    for r in rows:
        if r["bsn"] and r["postcode"]:
            owners.setdefault(triple(r), set()).add(r["bsn"])
    unlinked = [r for r in rows if not r["bsn"]]
    with_fallback = [r for r in unlinked if r["postcode"]]
    linked = [r for r in with_fallback if len(owners.get(triple(r), set())) == 1]
    conflict = [r for r in with_fallback if len(owners.get(triple(r), set())) > 1]
    alone = [r for r in with_fallback if triple(r) not in owners]
    return {
        "clients_by_bsn": len(by_bsn),
        "rows_without_valid_bsn": len(unlinked),
        "rows_with_fallback": len(with_fallback),
        "rows_linked_to_bsn_client": len(linked),
        "rows_fallback_only": len(alone),
        "clients_fallback_only": len({triple(r) for r in alone}),
        "conflicts": sum(1 for bsns in owners.values() if len(bsns) > 1),
        "rows_in_conflict": len(conflict),
        "unique_with_fallback": len(by_bsn) + len({triple(r) for r in alone}),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fallback_linking_matches_the_oracle(tmp_path: Path, seed: int) -> None:
    key, files, rows = fallback_round(tmp_path, seed)
    expected = oracle(rows)
    manifest = link(files, tmp_path / "linked.parquet", key=key)
    report = manifest.extra["fallback"]
    assert report == {k: v for k, v in expected.items() if k != "unique_with_fallback"}
    assert fallback_report(pl.scan_parquet(tmp_path / "linked.parquet")).to_dict() == report
    assert expected["conflicts"] == 1

    plain = count(tmp_path / "linked.parquet")
    assert plain.unique_clients == expected["clients_by_bsn"]
    assert plain.fallback is None
    used = count(tmp_path / "linked.parquet", use_fallback=True)
    assert used.unique_clients == expected["unique_with_fallback"]
    assert used.fallback == report
    assert used.summary()["metadata"]["linked_by_fallback"] is True
    unlinked_rows = expected["rows_in_conflict"] + (
        expected["rows_without_valid_bsn"] - expected["rows_with_fallback"]
    )
    assert used.rows_without_valid_bsn == unlinked_rows
