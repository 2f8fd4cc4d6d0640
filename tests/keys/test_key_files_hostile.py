"""Key files made to mislead or to hurt, and keys handled carelessly (issue 14: 15, 23, 31, 32).

- 15: a key file's kind (round, key id, fingerprint) is bound to its secret by a check value.
- 23: a key file other users may open is refused (readable by all, secret as is) or warned about.
- 31: the Argon2id cost a file asks for is capped before anything is derived.
- 32: a key's secret does not leave through pickle, dataclasses.asdict, vars or copy.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import os
import pickle
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

import factlab.cli.keys  # registers ``factlab key …`` on main
from factlab.cli import main
from factlab.errors import FactlabWarning, KeyFileError
from factlab.keys import _keyfile
from factlab.keys.recipients import (
    RecipientPrivateKey,
    load_recipient_private,
    load_recipient_public,
    new_recipient,
    write_recipient,
)
from factlab.keys.round_keys import (
    Key,
    check_value,
    load_key,
    read_key_header,
    write_key,
)

assert factlab.cli.keys  # imported for its side effect

pytestmark = pytest.mark.usefixtures("fast_argon2")

PASSPHRASE = "correct horse battery staple"
posix_only = pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _rewrite(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document))  # an existing file keeps its mode (0600)


def _edit(path: Path, **changes: object) -> None:
    _rewrite(path, _document(path) | changes)


# --- 15: the kind is bound to the secret ---------------------------------------------------------


def test_a_provider_key_edited_to_link_is_refused(round_key: Key, tmp_path: Path) -> None:
    # The red-team case: the stewards' secret P would have run stage 2.
    path = tmp_path / "provider.key"
    write_key(round_key.provider_key(), path)
    _edit(path, kind="link")
    with pytest.raises(KeyFileError) as refused:
        load_key(path)
    assert str(refused.value).startswith(f"{path}: key file altered: kind")
    assert "does not match its secret" in str(refused.value)
    assert base64.b64encode(round_key.provider_key()._secret).decode() not in str(refused.value)


@pytest.mark.parametrize("kind", ["round", "provider"])
def test_no_kind_becomes_a_link_key(round_key: Key, tmp_path: Path, kind: str) -> None:
    key = round_key if kind == "round" else round_key.provider_key()
    path = tmp_path / f"{kind}.key"
    write_key(key, path)
    _edit(path, kind="link")
    with pytest.raises(KeyFileError, match="key file altered"):
        load_key(path)


@pytest.mark.parametrize(
    "change",
    [
        {"check": "é" * 32},  # not ASCII: still one clean refusal
        {"key_id": "0123456789abcdef"},
        {"fingerprint": "0000-0000-0000-0000-0000"},
        {"kind": "provider"},
        {"kind": "round"},
    ],
)
def test_a_link_keys_header_cannot_be_edited(
    round_key: Key, tmp_path: Path, change: dict[str, str]
) -> None:
    # A link key's fingerprint is carried, not recomputed: only the check value protects it.
    path = tmp_path / "link.key"
    write_key(round_key.link_key(), path)
    _edit(path, **change)
    with pytest.raises(KeyFileError, match=r"key file altered|fingerprint does not match"):
        load_key(path)


def test_a_link_key_without_its_check_value_is_refused(round_key: Key, tmp_path: Path) -> None:
    # Removing the check value must not turn an edited file into an "old" one that loads.
    path = tmp_path / "provider.key"
    write_key(round_key.provider_key(), path)
    document = _document(path)
    del document["check"]
    _rewrite(path, document | {"kind": "link"})
    with pytest.raises(KeyFileError, match=r"without a check value.*factlab key export-link"):
        load_key(path)


def test_older_files_without_a_check_value(round_key: Key, tmp_path: Path) -> None:
    # Round and provider keys recompute their fingerprint from the secret, which binds the kind;
    # a protected header is authenticated. Both still load; a plain link key does not (above).
    for key in (round_key, round_key.provider_key()):
        path = tmp_path / f"{key.kind}.key"
        write_key(key, path)
        document = _document(path)
        del document["check"]
        _rewrite(path, document)
        assert load_key(path) == key
        assert read_key_header(path)["check"] is None


def test_removing_the_check_value_of_a_protected_file_breaks_it(
    round_key: Key, tmp_path: Path
) -> None:
    path = tmp_path / "link.key"
    write_key(round_key.link_key(), path, passphrase=PASSPHRASE)
    document = _document(path)
    del document["check"]
    _rewrite(path, document)
    with pytest.raises(KeyFileError, match="wrong passphrase or damaged key file"):
        load_key(path, passphrase=PASSPHRASE)


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
@pytest.mark.parametrize("kind", ["round", "provider", "link"])
def test_genuine_files_load_and_keep_their_subkeys(
    round_key: Key, tmp_path: Path, kind: str, passphrase: str | None
) -> None:
    key = {"round": round_key, "provider": round_key.provider_key(), "link": round_key.link_key()}
    path = tmp_path / f"{kind}.key"
    write_key(key[kind], path, passphrase=passphrase)
    loaded = load_key(path, passphrase=passphrase)
    assert loaded == key[kind]
    assert loaded.fingerprint == round_key.fingerprint
    assert read_key_header(path)["check"] == check_value(key[kind])
    # the check value is no subkey: pseudonyms are those of the round key
    if loaded.can_pseudonymise:
        assert loaded.pseudonym_key("bsn") == round_key.pseudonym_key("bsn")
    if loaded.can_link:
        assert loaded.stage2_key("bsn") == round_key.stage2_key("bsn")


def test_check_values_differ_by_kind_and_reveal_no_secret(
    round_key: Key, key_secret_forms: Callable[[Key], list[str]]
) -> None:
    keys = (round_key, round_key.provider_key(), round_key.link_key())
    checks = [check_value(key) for key in keys]
    assert len(set(checks)) == 3
    for check in checks:
        assert len(check) == 32
        assert all(form not in check for form in key_secret_forms(round_key))


def test_a_forged_link_key_has_another_check_value(round_key: Key, tmp_path: Path) -> None:
    # Someone who holds the provider key can write a whole new "link" key file from it; it loads,
    # but its check value is not the one the key custodian announces for the genuine link key.
    provider = round_key.provider_key()
    forged = Key(
        "link",
        provider.round,
        provider.key_id,
        provider.created,
        _secret=provider._secret,
        _fingerprint=provider.fingerprint,
    )
    path = tmp_path / "forged.key"
    write_key(forged, path)
    assert read_key_header(path)["check"] != check_value(round_key.link_key())
    code, out, err = _cli("key", "show", str(path))
    assert code == 0, err
    assert f"check:       {check_value(forged)}" in out
    assert check_value(round_key.link_key()) not in out


def test_export_link_prints_the_check_value(round_key: Key, tmp_path: Path) -> None:
    write_key(round_key, tmp_path / "round.key")
    out = tmp_path / "link.key"
    code, stdout, err = _cli("key", "export-link", str(tmp_path / "round.key"), "--out", str(out))
    assert code == 0, err
    assert f"check:       {check_value(round_key.link_key())}" in stdout


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("provider", {"kind": "link"}),  # the red-team case: shown as a link key before
        ("provider", {"kind": "round"}),
        ("round", {"round": "other-2026"}),
        ("link", {"kind": "provider"}),
        ("provider", {"contract": {"version": 1, "required": ["bsn"]}}),
    ],
)
def test_key_show_refuses_an_edited_key_file_as_load_does(
    round_key: Key, tmp_path: Path, kind: str, change: dict[str, object]
) -> None:
    key = {"round": round_key, "provider": round_key.provider_key(), "link": round_key.link_key()}
    path = tmp_path / f"{kind}.key"
    write_key(key[kind], path, contract={"version": 1} if kind == "provider" else None)
    assert _cli("key", "show", str(path))[0] == 0
    _edit(path, **change)
    with pytest.raises(KeyFileError, match=r"key file altered|fingerprint does not match") as load:
        load_key(path)
    code, out, err = _cli("key", "show", str(path))
    assert code == KeyFileError.exit_code
    assert str(load.value) in err  # refused as load refuses it
    assert out == ""  # nothing of the edited header is shown
    assert check_value(key[kind]) not in out + err


def test_key_show_refuses_an_edited_protected_key_file(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "provider.key"
    write_key(round_key.provider_key(), path, passphrase=PASSPHRASE)
    _edit(path, kind="link")
    env = {"FL_PW": PASSPHRASE}
    result = CliRunner().invoke(
        main, ["key", "show", str(path), "--passphrase-env", "FL_PW"], env=env
    )
    assert result.exit_code == KeyFileError.exit_code
    assert "kind:" not in result.stdout
    assert PASSPHRASE not in result.output


def test_key_show_refuses_a_recipient_private_key_whose_key_id_was_edited(
    tmp_path: Path,
) -> None:
    private, public = new_recipient("ttp")
    private_path, _ = write_recipient(private, tmp_path)
    other_id = new_recipient("ttp")[1].key_id
    _edit(private_path, key_id=other_id)
    code, out, err = _cli("key", "show", str(private_path))
    assert code == KeyFileError.exit_code
    assert "key id does not match the private key" in err
    assert other_id not in out
    assert public.key_id not in out


@pytest.mark.parametrize(
    "change",
    [
        {"round": "a|purpose=x"},
        {"round": 2026},
        {"key_id": "a b"},
        {"fingerprint": None},
        {"check": 12},
    ],
)
def test_malformed_header_fields_are_refused(
    round_key: Key, tmp_path: Path, change: dict[str, object]
) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path)
    _edit(path, **change)
    with pytest.raises(KeyFileError, match="damaged key file"):
        load_key(path)


def test_a_recipient_file_name_cannot_hold_a_path(tmp_path: Path) -> None:
    private, _ = new_recipient("ttp")
    private_path, public_path = write_recipient(private, tmp_path)
    for path in (private_path, public_path):
        _edit(path, name="../../elsewhere")
    with pytest.raises(KeyFileError, match="damaged key file \\(field 'name'\\)"):
        load_recipient_private(private_path)
    with pytest.raises(KeyFileError, match="damaged key file \\(field 'name'\\)"):
        load_recipient_public(public_path)


# --- 23: key files other users may open ----------------------------------------------------------


def _no_warning(load: Callable[[], object]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load()


@posix_only
def test_a_private_file_loads_without_warning(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    _no_warning(lambda: load_key(path))


@posix_only
@pytest.mark.parametrize("kind", ["round", "provider", "link"])
def test_a_world_readable_plain_key_file_is_refused(
    round_key: Key, tmp_path: Path, kind: str, key_secret_forms: Callable[[Key], list[str]]
) -> None:
    key = {"round": round_key, "provider": round_key.provider_key(), "link": round_key.link_key()}
    path = tmp_path / f"{kind}.key"
    write_key(key[kind], path)
    path.chmod(0o644)  # e.g. copied from a shared drive under umask 022
    with pytest.raises(KeyFileError) as refused:
        load_key(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: key file is readable by every user")
    assert f"chmod 600 {path}" in message
    assert "\n" not in message
    assert all(form not in message for form in key_secret_forms(round_key))


@posix_only
@pytest.mark.parametrize(
    ("mode", "passphrase"), [(0o640, None), (0o660, None), (0o644, PASSPHRASE)]
)
def test_other_open_modes_warn_with_the_fix(
    round_key: Key, tmp_path: Path, mode: int, passphrase: str | None
) -> None:
    path = tmp_path / "provider.key"
    write_key(round_key.provider_key(), path, passphrase=passphrase)
    path.chmod(mode)
    with pytest.warns(FactlabWarning) as caught:
        key = load_key(path, passphrase=passphrase)
    assert key.fingerprint == round_key.fingerprint
    (warning,) = caught
    assert str(warning.message) == (
        f"{path}: key file is open to other users (mode {mode:04o}): run `chmod 600 {path}`"
    )


@posix_only
def test_recipient_private_key_files_are_checked_too(tmp_path: Path) -> None:
    private, public = new_recipient("ttp")
    private_path, public_path = write_recipient(private, tmp_path)
    assert stat.S_IMODE(public_path.stat().st_mode) == 0o644
    _no_warning(lambda: load_recipient_public(public_path))  # a public key is public
    _no_warning(lambda: load_recipient_private(private_path))
    private_path.chmod(0o604)
    with pytest.raises(KeyFileError, match=r"readable by every user.*chmod 600"):
        load_recipient_private(private_path)
    private_path.chmod(0o640)
    with pytest.warns(FactlabWarning, match="chmod 600"):
        assert load_recipient_private(private_path).key_id == public.key_id


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@posix_only
def test_the_cli_shows_one_warning_line_and_one_error_line(round_key: Key, tmp_path: Path) -> None:
    path, out = tmp_path / "round.key", tmp_path / "provider.key"
    write_key(round_key, path)
    path.chmod(0o640)
    code, _, err = _cli("key", "export-provider", str(path), "--out", str(out))
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0] == (
        f"factlab: warning: {path}: key file is open to other users (mode 0640): "
        f"run `chmod 600 {path}`"
    )
    assert not any("Warning" in line or "warnings.warn" in line for line in lines)
    path.chmod(0o644)
    code, _, err = _cli("key", "export-provider", str(path), "--out", str(out), "--force")
    assert code == KeyFileError.exit_code
    assert [line for line in err.splitlines() if line.strip()] == [
        f"factlab: error: {path}: key file is readable by every user of this computer "
        f"(mode 0644): run `chmod 600 {path}`, and treat the key as known to whoever could read it"
    ]


# --- 31: the cost a key file may ask for ---------------------------------------------------------


@pytest.fixture
def no_derivation(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """``forbid()``: from then on, fail the test if Argon2id runs (the caps must refuse first)."""

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("Argon2id ran on parameters beyond the caps")

    def forbid() -> None:
        monkeypatch.setattr(_keyfile, "_kek", refuse)

    return forbid


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("memory_kib", 4 << 20),  # 4 GiB, the red-team file
        ("memory_kib", _keyfile.MAX_MEMORY_KIB + 1),
        ("iterations", 64),
        ("iterations", _keyfile.MAX_ITERATIONS + 1),
        ("lanes", 64),
        ("lanes", _keyfile.MAX_LANES + 1),
    ],
)
def test_costs_above_the_caps_are_refused_before_deriving(
    round_key: Key, tmp_path: Path, name: str, value: int, no_derivation: Callable[[], None]
) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    document = _document(path)
    document["protection"][name] = value
    _rewrite(path, document)
    no_derivation()
    with pytest.raises(KeyFileError) as refused:
        load_key(path, passphrase=PASSPHRASE)
    assert f"protection.{name} = {value}, above factlab's maximum" in str(refused.value)


@pytest.mark.parametrize("value", ["3", 3.0, True, None, [3]])
def test_cost_parameters_must_be_whole_numbers(
    round_key: Key, tmp_path: Path, value: object, no_derivation: Callable[[], None]
) -> None:
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    document = _document(path)
    document["protection"]["iterations"] = value
    _rewrite(path, document)
    no_derivation()
    with pytest.raises(KeyFileError, match=r"protection\.iterations is not a whole number"):
        load_key(path, passphrase=PASSPHRASE)


def test_recipient_files_have_the_same_caps(
    tmp_path: Path, no_derivation: Callable[[], None]
) -> None:
    private, _ = new_recipient("ttp")
    path, _ = write_recipient(private, tmp_path, passphrase=PASSPHRASE)
    document = _document(path)
    document["protection"]["memory_kib"] = 4 << 20
    document["protection"]["iterations"] = 64
    _rewrite(path, document)
    no_derivation()
    with pytest.raises(KeyFileError, match="above factlab's maximum"):
        load_recipient_private(path, PASSPHRASE)


def test_the_caps_are_well_above_the_defaults() -> None:
    assert _keyfile.MAX_MEMORY_KIB >= 16 * _keyfile.MEMORY_KIB
    assert _keyfile.MAX_ITERATIONS >= 3 * _keyfile.ITERATIONS
    assert _keyfile.MAX_LANES >= 4 * _keyfile.LANES


def test_the_default_parameters_are_within_the_caps(
    round_key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # factlab's own parameters, not the fast ones
    path = tmp_path / "round.key"
    write_key(round_key, path, passphrase=PASSPHRASE)
    assert load_key(path, passphrase=PASSPHRASE) == round_key


def test_a_file_far_larger_than_a_key_file_is_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.key"
    path.write_text(json.dumps({"factlab_key_file": 1, "padding": "x" * (1 << 20)}))
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="larger than any key file"):
        load_key(path)


# --- 32: the secret stays inside the key object --------------------------------------------------


def _keys(round_key: Key) -> list[Key]:
    return [round_key, round_key.provider_key(), round_key.link_key()]


def test_a_key_cannot_be_pickled(round_key: Key) -> None:
    for key in _keys(round_key):
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with pytest.raises(TypeError, match="a Key cannot be pickled: it holds a secret"):
                pickle.dumps(key, protocol=protocol)
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps({"nested": [key]})


def test_asdict_and_vars_do_not_reach_the_secret(round_key: Key) -> None:
    for key in _keys(round_key):
        assert not dataclasses.is_dataclass(key)
        with pytest.raises(TypeError):
            dataclasses.asdict(key)  # type: ignore[call-overload]
        with pytest.raises(TypeError):
            vars(key)
        assert not hasattr(key, "__dict__")


def test_a_key_in_a_dataclass_is_not_expanded(round_key: Key) -> None:
    @dataclasses.dataclass
    class Holder:
        key: Key

    as_dict = dataclasses.asdict(Holder(round_key))
    assert as_dict["key"] is round_key  # kept as the object; its secret is not spread out
    assert "secret" not in repr(as_dict)


def test_copies_are_the_key_itself(round_key: Key) -> None:
    for key in _keys(round_key):
        assert copy.copy(key) is key
        assert copy.deepcopy(key) is key
        assert copy.deepcopy({"k": key})["k"] is key


def test_keys_stay_immutable_comparable_and_hashable(round_key: Key) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        round_key._secret = b"\0" * 32  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del round_key.kind
    same = Key(
        round_key.kind,
        round_key.round,
        round_key.key_id,
        round_key.created,
        _secret=round_key._secret,
    )
    assert same == round_key
    assert hash(same) == hash(round_key)
    assert same != round_key.provider_key()
    other = Key(
        round_key.kind, round_key.round, round_key.key_id, round_key.created, _secret=bytes(32)
    )
    assert other != round_key
    assert len({round_key, same, other}) == 2


def test_a_key_needs_a_known_kind_and_bytes() -> None:
    with pytest.raises(KeyFileError, match="unknown key kind"):
        Key("master", "r", "k", "c", _secret=bytes(32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="secret must be bytes; got str"):
        Key("round", "r", "k", "c", _secret="00" * 32)  # type: ignore[arg-type]


def test_a_recipient_private_key_keeps_its_secret() -> None:
    private, _ = new_recipient("ttp")
    raw = private.secret.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    with pytest.raises(TypeError, match="RecipientPrivateKey cannot be pickled"):
        pickle.dumps(private)
    assert not dataclasses.is_dataclass(private)
    with pytest.raises(TypeError):
        dataclasses.asdict(private)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        vars(private)
    assert copy.copy(private) is private
    assert copy.deepcopy(private) is private
    with pytest.raises(dataclasses.FrozenInstanceError):
        private.name = "other"  # type: ignore[misc]
    shown = repr(private) + str(private)
    assert private.key_id in shown
    assert raw.hex() not in shown
    assert "secret" not in shown
    with pytest.raises(TypeError, match="X25519PrivateKey; got bytes"):
        RecipientPrivateKey(name="ttp", key_id=private.key_id, secret=raw)  # type: ignore[arg-type]
