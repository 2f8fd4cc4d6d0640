"""Round, provider and link keys; key files (mode, overwrite, passphrase, tampering); key CLI."""

from __future__ import annotations

import base64
import json
import re
import stat
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

import factlab.cli.keys  # registers ``factlab key …`` on main
from factlab.cli import main
from factlab.errors import KeyFileError
from factlab.keys.round_keys import (
    Key,
    context_label,
    is_protected,
    load_key,
    new_round_key,
    read_key_header,
    write_key,
)

if TYPE_CHECKING:
    from conftest import KeyFiles

assert factlab.cli.keys  # imported for its side effect

pytestmark = pytest.mark.usefixtures("fast_argon2")

PASSPHRASE = "correct horse battery staple"
FINGERPRINT = re.compile(r"^[0-9a-f]{4}(-[0-9a-f]{4}){4}$")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _edit(path: Path, **changes: object) -> None:
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


# --- keys in memory ------------------------------------------------------------------------------


def test_new_round_key() -> None:
    key = new_round_key("  2026-drenthe ")
    assert (key.kind, key.round) == ("round", "2026-drenthe")
    assert len(key._secret) == 32
    assert re.fullmatch(r"[0-9a-f]{16}", key.key_id)
    assert FINGERPRINT.match(key.fingerprint)
    assert key.can_pseudonymise
    assert key.can_link
    other = new_round_key("2026-drenthe")
    assert other._secret != key._secret
    assert other.key_id != key.key_id
    assert other.fingerprint != key.fingerprint


@pytest.mark.parametrize("name", ["", "   ", "a|b", "x" * 101])
def test_bad_round_names_are_refused(name: str) -> None:
    with pytest.raises(KeyFileError, match="round name"):
        new_round_key(name)


def test_keys_are_frozen(round_key: Key) -> None:
    with pytest.raises(FrozenInstanceError):
        round_key.round = "other"  # type: ignore[misc]


def test_context_label() -> None:
    assert context_label("s", "r", "stage1-key") == "factlab|s|round=r|purpose=stage1-key"
    assert (
        context_label("s", "r", "pseudonym", "bsn") == "factlab|s|round=r|purpose=pseudonym|id=bsn"
    )


def test_no_secret_in_repr_or_str(
    round_key: Key, key_secret_forms: Callable[[Key], list[str]]
) -> None:
    for key in (round_key, round_key.provider_key(), round_key.link_key()):
        shown = repr(key) + str(key) + f"{key}" + repr([key])
        assert round_key.fingerprint in shown
        for form in key_secret_forms(round_key):
            assert form not in shown
        assert "secret" not in shown


def test_provider_key_makes_the_same_first_stage_but_no_second(round_key: Key) -> None:
    provider = round_key.provider_key()
    assert provider.kind == "provider"
    assert provider.provider_key() is provider
    assert provider.fingerprint == round_key.fingerprint
    assert provider.key_id == round_key.key_id
    assert provider.pseudonym_key("bsn") == round_key.pseudonym_key("bsn")
    assert provider.pseudonym_key("fallback") == round_key.pseudonym_key("fallback")
    assert provider._secret != round_key._secret
    assert provider.can_pseudonymise
    assert not provider.can_link
    with pytest.raises(KeyFileError, match="provider key cannot make second-stage"):
        provider.stage2_key("bsn")
    with pytest.raises(KeyFileError):
        provider.link_key()


def test_link_key_makes_the_second_stage_but_no_first(round_key: Key) -> None:
    link = round_key.link_key()
    assert link.kind == "link"
    assert link.link_key() is link
    assert link.fingerprint == round_key.fingerprint
    assert link.stage2_key("bsn") == round_key.stage2_key("bsn")
    assert link.stage2_key("fallback") == round_key.stage2_key("fallback")
    assert not link.can_pseudonymise
    assert link.can_link
    with pytest.raises(KeyFileError, match="link key cannot make first-stage"):
        link.pseudonym_key("bsn")
    with pytest.raises(KeyFileError):
        link.provider_key()


def test_every_purpose_has_its_own_subkey(round_key: Key) -> None:
    subkeys = [
        round_key._secret,
        round_key.provider_key()._secret,
        round_key.link_key()._secret,
        round_key.pseudonym_key("bsn"),
        round_key.pseudonym_key("fallback"),
        round_key.stage2_key("bsn"),
        round_key.stage2_key("fallback"),
    ]
    assert len(set(subkeys)) == len(subkeys)
    assert all(len(subkey) == 32 for subkey in subkeys)


# --- key files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
def test_round_trip(round_key: Key, tmp_path: Path, passphrase: str | None) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=passphrase)
    assert _mode(path) == 0o600
    assert is_protected(path) is (passphrase is not None)
    loaded = load_key(path, passphrase=passphrase)
    assert loaded == round_key
    assert loaded._secret == round_key._secret
    assert loaded.fingerprint == round_key.fingerprint
    assert [p.name for p in tmp_path.iterdir()] == ["round.key"]  # no temporary file left


@pytest.mark.parametrize("kind", ["provider", "link"])
def test_derived_key_files_round_trip(round_key: Key, tmp_path: Path, kind: str) -> None:
    key = round_key.provider_key() if kind == "provider" else round_key.link_key()
    path = tmp_path / f"{kind}.key"
    write_key(key, path, passphrase=PASSPHRASE)
    loaded = load_key(path, passphrase=PASSPHRASE)
    assert loaded.kind == kind
    assert loaded._secret == key._secret
    assert loaded.fingerprint == round_key.fingerprint
    header = read_key_header(path)
    assert header["kind"] == kind
    assert header["protected"] is True
    assert header["fingerprint"] == round_key.fingerprint


def test_unprotected_file_holds_the_secret_in_base64(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path)
    document = json.loads(path.read_text())
    assert base64.b64decode(document["secret"]) == round_key._secret
    assert document["protection"] == {"method": "none"}


def test_protected_file_holds_no_secret(
    round_key: Key, tmp_path: Path, key_secret_forms: Callable[[Key], list[str]]
) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    text = path.read_text()
    assert "secret" not in json.loads(text)
    assert PASSPHRASE not in text
    for form in key_secret_forms(round_key):
        assert form not in text
    protection = json.loads(text)["protection"]
    assert protection["method"] == "argon2id+aes-256-gcm"
    assert {"salt", "nonce", "memory_kib", "iterations", "lanes"} <= set(protection)


def test_real_argon2_parameters_are_memory_hard_and_stored(
    round_key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # this one test uses factlab's own parameters, not the fast ones
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    protection = json.loads(path.read_text())["protection"]
    assert protection["memory_kib"] >= 64 * 1024
    assert protection["iterations"] >= 3
    assert load_key(path, passphrase=PASSPHRASE)._secret == round_key._secret


def test_existing_file_is_not_overwritten_without_force(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "round.key"
    path.write_text("precious")
    with pytest.raises(KeyFileError, match="exists"):
        write_key(round_key, path)
    assert path.read_text() == "precious"
    write_key(round_key, path, force=True)
    assert load_key(path).fingerprint == round_key.fingerprint
    assert _mode(path) == 0o600


def test_short_passphrase_is_refused(round_key: Key, tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="passphrase too short"):
        write_key(round_key, tmp_path / "round.key", passphrase="short")
    assert not (tmp_path / "round.key").exists()


def test_wrong_or_missing_passphrase(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    with pytest.raises(KeyFileError) as wrong:
        load_key(path, passphrase="not the passphrase")
    message = str(wrong.value)
    assert message == f"{path}: wrong passphrase or damaged key file"
    assert "not the passphrase" not in message
    with pytest.raises(KeyFileError, match="passphrase-protected; a passphrase is needed"):
        load_key(path)


def test_tampered_header_of_a_protected_file_is_detected(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    _edit(path, round="another-round")
    with pytest.raises(KeyFileError, match="wrong passphrase or damaged key file"):
        load_key(path, passphrase=PASSPHRASE)


@pytest.mark.parametrize(
    "change",
    [{"kind": "provider"}, {"key_id": "0" * 16}, {"fingerprint": "0000-0000-0000-0000-0000"}],
)
def test_other_tampered_header_fields_are_detected(
    round_key: Key, tmp_path: Path, change: dict[str, object]
) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    _edit(path, **change)
    with pytest.raises(KeyFileError):
        load_key(path, passphrase=PASSPHRASE)


def test_tampered_round_of_an_unprotected_file_is_detected(round_key: Key, tmp_path: Path) -> None:
    # the fingerprint depends on the round name, so it no longer matches the secret
    for key in (round_key, round_key.provider_key()):
        path = tmp_path / f"{key.kind}.key"
        write_key(key, path)
        _edit(path, round="another-round")
        with pytest.raises(KeyFileError, match="fingerprint does not match"):
            load_key(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "not a factlab key file"),
        ("[1, 2]", "not a factlab key file"),
        ('{"hello": 1}', "not a factlab key file"),
        ('{"factlab_key_file": 2}', "unsupported key file version"),
        ('{"factlab_key_file": 1, "kind": "round"}', "damaged key file"),
    ],
)
def test_damaged_files(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "x.key"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=reason):
        load_key(path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"kind": "master"}, "unknown key kind"),
        ({"secret": "%%%"}, "not valid base64"),
        ({"secret": base64.b64encode(b"short").decode()}, "wrong length"),
        ({"protection": {"method": "rot13"}}, "unknown key protection method"),
        ({"protection": "none"}, "damaged key file"),
        ({"scheme": "factlab-hmac-sha256-v0"}, "scheme"),
    ],
)
def test_damaged_fields(
    round_key: Key, tmp_path: Path, change: dict[str, object], reason: str
) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path)
    _edit(path, **change)
    with pytest.raises(KeyFileError, match=reason) as error:
        load_key(path)
    assert base64.b64encode(round_key._secret).decode() not in str(error.value)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="key file not found"):
        load_key(tmp_path / "nothing.key")
    with pytest.raises(KeyFileError, match="a folder, not a file"):
        load_key(tmp_path)  # a folder is no key file, and is named as such


# --- the CLI -------------------------------------------------------------------------------------


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_cli_key_new(tmp_path: Path) -> None:
    path = tmp_path / "round.key"
    code, out, err = _run("key", "new", str(path), "--round", "cli-2026")
    assert code == 0, err
    assert _mode(path) == 0o600
    key = load_key(path)
    assert key.round == "cli-2026"
    assert f"fingerprint: {key.fingerprint}" in out
    assert "not passphrase-protected" in err
    assert base64.b64encode(key._secret).decode() not in out + err
    # a second run does not overwrite the key (the round's pseudonyms hang on it)
    code, out, err = _run("key", "new", str(path), "--round", "cli-2026")
    assert code == KeyFileError.exit_code
    assert err.strip().splitlines() == [
        f"factlab: error: {path}: file exists (use --force to overwrite)"
    ]
    assert load_key(path)._secret == key._secret
    code, _, _ = _run("key", "new", str(path), "--round", "cli-2026", "--force")
    assert code == 0
    assert load_key(path)._secret != key._secret


def test_cli_key_new_with_passphrase_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "round.key"
    code, out, err = _run(
        "key",
        "new",
        str(path),
        "--round",
        "r",
        "--passphrase-env",
        "FL_PW",
        env={"FL_PW": PASSPHRASE},
    )
    assert code == 0, err
    assert is_protected(path)
    assert load_key(path, passphrase=PASSPHRASE).round == "r"
    assert PASSPHRASE not in out + err + path.read_text()


@pytest.mark.parametrize("kind", ["round", "provider", "link"])
def test_cli_key_show_never_prints_the_secret(
    key_files: KeyFiles, kind: str, key_secret_forms: Callable[[Key], list[str]]
) -> None:
    path = {"round": key_files.round, "provider": key_files.provider, "link": key_files.link}[kind]
    stored = json.loads(path.read_text())["secret"]
    code, out, err = _run("key", "show", str(path))
    assert code == 0, err
    assert f"kind:        {kind}" in out
    assert f"fingerprint: {key_files.key.fingerprint}" in out
    assert f"key id:      {key_files.key.key_id}" in out
    assert "protected:   no" in out
    assert stored not in out + err
    for form in key_secret_forms(key_files.key):
        assert form not in out + err


def test_cli_key_show_of_a_protected_file_needs_its_passphrase(
    round_key: Key, tmp_path: Path
) -> None:
    # key show verifies what it prints against the secret, which the passphrase opens
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    code, out, err = _run(
        "key", "show", str(path), "--passphrase-env", "FL_PW", env={"FL_PW": PASSPHRASE}
    )
    assert code == 0, err
    assert "protected:   yes" in out
    assert round_key.fingerprint in out
    assert PASSPHRASE not in out + err
    code, out, err = _run("key", "show", str(path))  # no terminal to ask
    assert code == KeyFileError.exit_code
    assert "use --passphrase-env VAR" in err
    assert round_key.fingerprint not in out


def test_cli_export_provider_and_link(key_files: KeyFiles, tmp_path: Path) -> None:
    provider, link = tmp_path / "p.key", tmp_path / "l.key"
    code, out, err = _run("key", "export-provider", str(key_files.round), "--out", str(provider))
    assert code == 0, err
    assert key_files.key.fingerprint in out
    code, _, err = _run("key", "export-link", str(key_files.round), "--out", str(link))
    assert code == 0, err
    assert _mode(provider) == _mode(link) == 0o600
    loaded_provider, loaded_link = load_key(provider), load_key(link)
    assert loaded_provider.kind == "provider"
    assert loaded_link.kind == "link"
    assert loaded_provider.pseudonym_key() == key_files.key.pseudonym_key()
    assert loaded_link.stage2_key() == key_files.key.stage2_key()
    assert loaded_provider.fingerprint == loaded_link.fingerprint == key_files.key.fingerprint


def test_cli_export_needs_the_round_key(key_files: KeyFiles, tmp_path: Path) -> None:
    out = tmp_path / "p.key"
    code, _, err = _run("key", "export-link", str(key_files.provider), "--out", str(out))
    assert code != 0
    assert "give the round key" in err
    assert not out.exists()


def test_cli_export_from_a_protected_round_key(round_key: Key, tmp_path: Path) -> None:
    path, out = tmp_path / "round.key", tmp_path / "p.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    args = ("key", "export-provider", str(path), "--out", str(out), "--passphrase-env", "FL_PW")
    code, _, err = _run(*args, env={"FL_PW": "a wrong passphrase"})
    assert code == KeyFileError.exit_code
    assert [line for line in err.splitlines() if line.strip()] == [
        f"factlab: error: {path}: wrong passphrase or damaged key file"
    ]
    assert not out.exists()
    code, _, err = _run(*args, env={"FL_PW": PASSPHRASE})
    assert code == 0, err
    assert load_key(out).fingerprint == round_key.fingerprint
