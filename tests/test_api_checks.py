"""Misuse of the public Python API gets one clear TypeError at the call (issue 14, defect 32).

``None``, a path where a key belongs, one file name where a list of files belongs: each public
function names itself, the argument and what to pass, shows the type it got and never the value
(a value may be a BSN or a secret), and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import factlab
from factlab.keys.round_keys import Key

pytestmark = pytest.mark.usefixtures("fast_argon2")

BSN = "999993653"  # a test-range BSN passed where it does not belong must not be echoed


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame({"bsn": [BSN, "999991723"]})


@pytest.fixture
def linked() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "pseudonym": ["a" * 32, "b" * 32],
            "bsn_status": ["valid", "valid"],
            "provider": ["P1", "P2"],
            "start_date": [date(2024, 1, 1), date(2025, 1, 1)],
            "end_date": pl.Series([None, None], dtype=pl.Date),
            "cost": [1.0, 2.0],
        }
    )


Call = Callable[[Key, pl.DataFrame, pl.DataFrame, Path], object]

# (call, the start of the message): the message names the function and the argument.
MISUSES: dict[str, tuple[Call, str]] = {
    "pseudonymise: key None": (
        lambda k, f, lk, t: factlab.pseudonymise(f, None, provider="P01"),  # type: ignore[call-overload]
        "pseudonymise: key must be a factlab Key (load one with factlab.load_key(path)); got None",
    ),
    "pseudonymise: key path": (
        lambda k, f, lk, t: factlab.pseudonymise(f, "round.key", provider="P01"),  # type: ignore[call-overload]
        "pseudonymise: key must be a factlab Key (load one with factlab.load_key(path)); got str",
    ),
    "pseudonymise: frame is a path": (
        lambda k, f, lk, t: factlab.pseudonymise("export.csv", k, provider="P01"),  # type: ignore[call-overload]
        "pseudonymise: frame must be a Polars DataFrame or LazyFrame; got str",
    ),
    "pseudonymise: provider None": (
        lambda k, f, lk, t: factlab.pseudonymise(f, k, provider=None),  # type: ignore[call-overload]
        "pseudonymise: provider must be a str; got None",
    ),
    "pseudonymise: mapping path": (
        lambda k, f, lk, t: factlab.pseudonymise(f, k, provider="P01", mapping="m.toml"),  # type: ignore[call-overload]
        "pseudonymise: mapping must be a ColumnMapping",
    ),
    "pseudonymise_file: key is a BSN": (
        lambda k, f, lk, t: factlab.pseudonymise_file(
            t / "x.csv",
            BSN,  # type: ignore[arg-type]
            provider="P01",
            out=t / "o.parquet",
        ),
        "pseudonymise_file: key must be a factlab Key",
    ),
    "pseudonymise_file: input is a frame": (
        lambda k, f, lk, t: factlab.pseudonymise_file(f, k, provider="P01", out=t / "o.parquet"),  # type: ignore[arg-type]
        "pseudonymise_file: input_path must be a path (str or pathlib.Path); got DataFrame",
    ),
    "pseudonymise_file: fallback one name": (
        lambda k, f, lk, t: factlab.pseudonymise_file(
            t / "x.csv",
            k,
            provider="P01",
            out=t / "o.parquet",
            fallback="birth_date",  # type: ignore[arg-type]
        ),
        "pseudonymise_file: fallback must be a list of names; got one str",
    ),
    "link: one file name": (
        lambda k, f, lk, t: factlab.link(str(t / "a.parquet"), t / "linked.parquet"),
        "link: paths must be a list of files; got one str (pass [path])",
    ),
    "link: one Path": (
        lambda k, f, lk, t: factlab.link(t / "a.parquet", t / "linked.parquet"),  # type: ignore[arg-type]
        "link: paths must be a list of files; got one ",
    ),
    "link: None": (
        lambda k, f, lk, t: factlab.link(None, t / "linked.parquet"),  # type: ignore[arg-type]
        "link: paths must be a list of files; got None",
    ),
    "link: key path": (
        lambda k, f, lk, t: factlab.link([t / "a.parquet"], t / "l.parquet", key="link.key"),  # type: ignore[arg-type]
        "link: key must be a factlab Key",
    ),
    "link: recipient path": (
        lambda k, f, lk, t: factlab.link(
            [t / "a.sealed"],
            t / "l.parquet",
            recipient="ttp.recipient.key",  # type: ignore[arg-type]
        ),
        "link: recipient must be a RecipientPrivateKey (load one with "
        "factlab.load_recipient_private(path)); got str",
    ),
    "link: out None": (
        lambda k, f, lk, t: factlab.link([t / "a.parquet"], None),  # type: ignore[arg-type]
        "link: out must be a path",
    ),
    "count: None": (
        lambda k, f, lk, t: factlab.count(None),  # type: ignore[arg-type]
        "count: source must be a Polars DataFrame or LazyFrame, or the path of a file; got None",
    ),
    "count: by one name": (
        lambda k, f, lk, t: factlab.count(lk, by="provider"),
        "count: by must be a list of names; got one str (pass [name])",
    ),
    "count: period a number": (
        lambda k, f, lk, t: factlab.count(lk, period=2025),  # type: ignore[arg-type]
        "count: period must be a factlab Period or a str",
    ),
    "overlap: None": (
        lambda k, f, lk, t: factlab.overlap(None),  # type: ignore[arg-type]
        "overlap: source must be",
    ),
    "overlap: by a list": (
        lambda k, f, lk, t: factlab.overlap(lk, by=["provider"]),  # type: ignore[arg-type]
        "overlap: by must be a str; got list",
    ),
    "flows: period a number": (
        lambda k, f, lk, t: factlab.flows(lk, 2024, 2025),  # type: ignore[arg-type]
        "flows: from_period must be a factlab Period or a str",
    ),
    "repeat_use: None": (
        lambda k, f, lk, t: factlab.repeat_use(None, "2025"),  # type: ignore[arg-type]
        "repeat_use: source must be",
    ),
    "costs: by one name": (
        lambda k, f, lk, t: factlab.costs(lk, by="provider"),
        "costs: by must be a list of names; got one str",
    ),
    "costs: on a number": (
        lambda k, f, lk, t: factlab.costs(lk, on=20251231),  # type: ignore[arg-type]
        "costs: on must be a datetime.date or a str",
    ),
    "write_counts: None": (
        lambda k, f, lk, t: factlab.write_counts(None, t / "c.csv"),  # type: ignore[arg-type]
        "write_counts: result must be a CountResult; got None",
    ),
    "protect: None": (
        lambda k, f, lk, t: factlab.protect(None),  # type: ignore[arg-type]
        "protect: counts must be a CountResult",
    ),
    "protect: rules by name": (
        lambda k, f, lk, t: factlab.protect(factlab.count(lk), "cbs"),  # type: ignore[arg-type]
        "protect: rules must be DisclosureRules (factlab.preset('cbs')",
    ),
    "estimate: None": (
        lambda k, f, lk, t: factlab.estimate(None, factlab.corrections_2014()),  # type: ignore[arg-type]
        "estimate: table must be",
    ),
    "estimate: corrections None": (
        lambda k, f, lk, t: factlab.estimate(lk, None),  # type: ignore[arg-type]
        "estimate: corrections must be a Corrections",
    ),
    "seal: recipient path": (
        lambda k, f, lk, t: factlab.seal(t / "a.parquet", "ttp.pub", t / "a.sealed"),  # type: ignore[arg-type]
        "seal: recipient must be a RecipientPublicKey (load one with "
        "factlab.load_recipient_public(path)); got str",
    ),
    "seal: a private key": (
        lambda k, f, lk, t: factlab.seal(
            t / "a.parquet",
            factlab.new_recipient("ttp")[0],  # type: ignore[arg-type]
            t / "a.sealed",
        ),
        "seal: recipient must be a RecipientPublicKey",
    ),
    "unseal: recipient None": (
        lambda k, f, lk, t: factlab.unseal(t / "a.sealed", None, t / "a.parquet"),  # type: ignore[arg-type]
        "unseal: recipient must be a RecipientPrivateKey",
    ),
    "second_stage: key path": (
        lambda k, f, lk, t: factlab.second_stage(lk.lazy(), "link.key"),  # type: ignore[arg-type]
        "second_stage: key must be a factlab Key",
    ),
    "second_stage: frame None": (
        lambda k, f, lk, t: factlab.second_stage(None, k),  # type: ignore[arg-type]
        "second_stage: frame must be a Polars DataFrame or LazyFrame; got None",
    ),
    "fallback_report: None": (
        lambda k, f, lk, t: factlab.fallback_report(None),  # type: ignore[arg-type]
        "fallback_report: frame must be",
    ),
    "write_key: key path": (
        lambda k, f, lk, t: factlab.write_key("round.key", t / "k.key"),  # type: ignore[arg-type]
        "write_key: key must be a factlab Key",
    ),
    "write_key: path None": (
        lambda k, f, lk, t: factlab.write_key(k, None),  # type: ignore[arg-type]
        "write_key: path must be a path (str or pathlib.Path); got None",
    ),
    "load_key: None": (
        lambda k, f, lk, t: factlab.load_key(None),  # type: ignore[arg-type]
        "load_key: path must be a path (str or pathlib.Path); got None",
    ),
    "load_key: a Key": (
        lambda k, f, lk, t: factlab.load_key(k),  # type: ignore[arg-type]
        "load_key: path must be a path (str or pathlib.Path); got Key",
    ),
    "load_key: passphrase bytes": (
        lambda k, f, lk, t: factlab.load_key(t / "k.key", passphrase=b"secret"),  # type: ignore[arg-type]
        "load_key: passphrase must be a str; got bytes",
    ),
    "new_round_key: None": (
        lambda k, f, lk, t: factlab.new_round_key(None),  # type: ignore[arg-type]
        "new_round_key: round_name must be a str; got None",
    ),
    "new_recipient: None": (
        lambda k, f, lk, t: factlab.new_recipient(None),  # type: ignore[arg-type]
        "new_recipient: name must be a str; got None",
    ),
    "write_recipient: a path": (
        lambda k, f, lk, t: factlab.write_recipient("ttp.recipient.key", t),  # type: ignore[arg-type]
        "write_recipient: private must be a RecipientPrivateKey",
    ),
    "load_recipient_public: None": (
        lambda k, f, lk, t: factlab.load_recipient_public(None),  # type: ignore[arg-type]
        "load_recipient_public: path must be a path",
    ),
    "load_recipient_private: None": (
        lambda k, f, lk, t: factlab.load_recipient_private(None),  # type: ignore[arg-type]
        "load_recipient_private: path must be a path",
    ),
    "load_mapping: None": (
        lambda k, f, lk, t: factlab.load_mapping(None),  # type: ignore[arg-type]
        "load_mapping: path must be a path",
    ),
    "load_rules: None": (
        lambda k, f, lk, t: factlab.load_rules(None),  # type: ignore[arg-type]
        "load_rules: path must be a path",
    ),
    "load_corrections: None": (
        lambda k, f, lk, t: factlab.load_corrections(None),  # type: ignore[arg-type]
        "load_corrections: path must be a path",
    ),
    "read_manifest: None": (
        lambda k, f, lk, t: factlab.read_manifest(None),  # type: ignore[arg-type]
        "read_manifest: path must be a path",
    ),
    "load_reference: None": (
        lambda k, f, lk, t: factlab.load_reference(None),  # type: ignore[arg-type]
        "load_reference: path must be a path (str or pathlib.Path); got None",
    ),
    "map_municipalities: values is a path": (
        lambda k, f, lk, t: factlab.map_municipalities("rows.csv", "municipality", None, 2024),  # type: ignore[arg-type]
        "map_municipalities: values must be a Polars DataFrame or LazyFrame; got str",
    ),
    "prevalence: reference is a path": (
        lambda k, f, lk, t: factlab.prevalence(lk, "reference.toml"),  # type: ignore[arg-type]
        "prevalence: reference must be a factlab Reference",
    ),
    "concentration: values None": (
        lambda k, f, lk, t: factlab.concentration(None, value="cost"),  # type: ignore[arg-type]
        "concentration: values must be a Polars DataFrame or LazyFrame; got None",
    ),
    "parse_period: None": (
        lambda k, f, lk, t: factlab.parse_period(None),  # type: ignore[arg-type]
        "parse_period: text must be a str",
    ),
    "append_to_store: one file name": (
        lambda k, f, lk, t: factlab.append_to_store(t / "store", "a.parquet"),  # type: ignore[arg-type]
        "append_to_store: paths must be a list of files; got one str (pass [path])",
    ),
    "open_store: None": (
        lambda k, f, lk, t: factlab.open_store(None),  # type: ignore[arg-type]
        "open_store: folder must be a path (str or pathlib.Path); got None",
    ),
    "series: source None": (
        lambda k, f, lk, t: factlab.series(None, ["2024"]),  # type: ignore[arg-type]
        "series: source must be a Polars DataFrame or LazyFrame, or the path of a file; got None",
    ),
    "transitions: source None": (
        lambda k, f, lk, t: factlab.transitions(None, "2024", "2025", by="provider"),  # type: ignore[arg-type]
        "transitions: source must be a Polars DataFrame or LazyFrame, or the path",
    ),
    "reentry: source None": (
        lambda k, f, lk, t: factlab.reentry(None, ["2024"]),  # type: ignore[arg-type]
        "reentry: source must be a Polars DataFrame or LazyFrame, or the path",
    ),
    "durations: source None": (
        lambda k, f, lk, t: factlab.durations(None, ["2024"]),  # type: ignore[arg-type]
        "durations: source must be a Polars DataFrame or LazyFrame, or the path",
    ),
    "load_service_config: None": (
        lambda k, f, lk, t: factlab.load_service_config(None),  # type: ignore[arg-type]
        "load_service_config: path must be a path (str or pathlib.Path); got None",
    ),
    "load_service_config: a key where the configuration belongs": (
        lambda k, f, lk, t: factlab.load_service_config(k),  # type: ignore[arg-type]
        "load_service_config: path must be a path (str or pathlib.Path); got Key",
    ),
    "load_service_config: tokens as text": (
        lambda k, f, lk, t: factlab.load_service_config(t / "services.toml", tokens="no"),  # type: ignore[arg-type]
        "load_service_config: tokens must be True or False; got str",
    ),
    "cost_change: source None": (
        lambda k, f, lk, t: factlab.cost_change(None, ["2024"]),  # type: ignore[arg-type]
        "cost_change: source must be a Polars DataFrame or LazyFrame, or the path",
    ),
}


@pytest.mark.parametrize("case", sorted(MISUSES))
def test_misuse_gets_one_clear_type_error(
    case: str, round_key: Key, frame: pl.DataFrame, linked: pl.DataFrame, tmp_path: Path
) -> None:
    call, expected = MISUSES[case]
    with pytest.raises(TypeError) as raised:
        call(round_key, frame, linked, tmp_path)
    message = str(raised.value)
    assert message.startswith(expected), message
    assert "\n" not in message
    assert BSN not in message
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing half-written


def test_every_public_function_is_covered() -> None:
    # A new public function should join the table above (or be listed here with the reason).
    no_arguments = {"corrections_2014", "disclosure_2014"}
    checked_elsewhere = {"preset"}  # preset(None) is a ConfigError naming the presets
    functions = {
        name
        for name in factlab.__all__
        if callable(getattr(factlab, name))
        and not isinstance(getattr(factlab, name), type)
        and name != "__version__"
    }
    covered = {case.split(":")[0] for case in MISUSES}
    assert functions - covered - no_arguments - checked_elsewhere == set()


def test_link_refuses_a_file_name_rather_than_iterating_it(tmp_path: Path) -> None:
    # Before the check, link("a.parquet", …) looked for files "a", ".", "p", … and said
    # "a: file not found".
    with pytest.raises(TypeError, match=r"pass \[path\]"):
        factlab.link("a.parquet", tmp_path / "linked.parquet")


def test_periods_and_dates_may_be_given_as_text(linked: pl.DataFrame) -> None:
    assert factlab.overlap(linked, period="2025").rows_used == 2
    assert factlab.costs(linked, by=["provider"], on="2025-06-30").table.height == 3
    assert factlab.flows(linked, "2024", "2025", repeat_years=None).table.height == 1


def test_a_generator_of_paths_is_a_list_of_files(tmp_path: Path) -> None:
    # only a single str or Path is refused; any other iterable of paths is fine
    with pytest.raises(factlab.InputError, match="file not found"):
        factlab.link((tmp_path / name for name in ["a.parquet"]), tmp_path / "linked.parquet")


def test_keyword_names_in_messages_match_the_signatures() -> None:
    # The messages name arguments as the signatures do, so a user can find them.
    import inspect

    for case, (_, expected) in MISUSES.items():
        function, argument = case.split(":")[0], expected.split(": ")[1].split(" ")[0]
        parameters = inspect.signature(getattr(factlab, function)).parameters
        assert argument in parameters, (case, argument)
