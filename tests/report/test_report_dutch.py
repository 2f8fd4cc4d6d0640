"""Issue 16: reports a Dutch municipality can publish as they are.

Dutch words, numbers and dates; no exact count in free text; rows (data quality) published by
their own rule; structural empties so the JB/JR total is published; categories in their order;
honest periods; `factlab report --builtin 2014` and `factlab demo` write the Dutch report.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import factlab.cli.report  # noqa: F401  (registers `factlab report` on `main`)
from factlab import schema
from factlab.cli import main
from factlab.errors import ConfigError, DataError
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import parse_period
from factlab.report import i18n
from factlab.report.build import build_report, write_report
from factlab.report.config import CaptureRecapture, RoundConfig, parse_round_config, round_2014
from factlab.report.delivery import refuse_empty
from factlab.report.freetext import numbers_in
from factlab.report.grid import (
    NIL,
    STRUCTURAL,
    cell_text,
    estimate_grid,
    figures_grid,
    table_grid,
    unseen_grid,
    unseen_sentence,
)
from factlab.report.labels import value_order
from factlab.report.messages import MESSAGES
from factlab.report.render import render_html, render_markdown

SNAPSHOT = Path(__file__).parent / "snapshots" / "report_nl.txt"
PROVIDERS = ("P01", "P02", "P03", "P04", "P05")
STREAMS = {"ambulant": ("Begroting", "ZVW", "AWBZ"), "verblijf": ("Begroting", "AWBZ"),
           "dagbehandeling": ("Begroting", "AWBZ"), "JB/JR": ("Begroting",)}  # fmt: skip
GENERATED = "2014-03-01T12:00:00+00:00"
# Words of an English report that must not appear in a Dutch one (whole words, any case).
ENGLISH = (
    "unique clients", "clients", "provider", "providers", "key figures", "provenance",
    "suppressed", "missing", "sentinel", "checksum", "estimate", "counted", "step",
    "applies to", "formula", "range", "source", "warning", "region", "published", "status",
    "care form", "financing", "sum of cells", "total", "rows", "how to read", "reference date",
    "period", "youths", "assumptions", "internal", "corrections", "data quality",
)  # fmt: skip


def pseudonym(client: int) -> str:
    return hashlib.sha256(f"dutch-test-{client}".encode()).hexdigest()[:32]


def rows_2013(clients: int = 900, seed: int = 16) -> pl.DataFrame:
    """Linked rows shaped like the 2014 round: in care on 1 January 2013, JB/JR only under
    Begroting, a provider (P05) that delivered no BSN, open episodes."""
    rng = np.random.default_rng(seed)
    forms = list(STREAMS)
    records = []
    for client in range(clients):
        for provider in rng.choice(4, size=int(rng.choice([1, 2], p=[0.7, 0.3])), replace=False):
            form = forms[int(rng.choice(4, p=[0.6, 0.15, 0.1, 0.15]))]
            start = date(2011, 6, 1) + timedelta(days=int(rng.integers(0, 560)))
            records.append(
                (client, PROVIDERS[int(provider)], form, str(rng.choice(STREAMS[form])), start,
                 None if rng.random() < 0.4
                 else start + timedelta(days=int(rng.integers(300, 700))),
                 f"{int(rng.integers(0, 23))}")
            )  # fmt: skip
    for extra in range(40):  # P05: a provider without a single valid BSN
        records.append((None, "P05", "ambulant", "ZVW", date(2012, 5, 1), None, "10"))
        del extra
    frame = pl.DataFrame(
        records,
        schema=["client", "provider", "care_form", "financing", "start_date", "end_date", "age"],
        orient="row",
    )
    return frame.select(
        pl.col("client").map_elements(pseudonym, return_dtype=pl.String).alias("pseudonym"),
        pl.when(pl.col("client").is_null())
        .then(pl.lit("missing"))
        .otherwise(pl.lit("valid"))
        .cast(schema.STATUS_DTYPE)
        .alias("bsn_status"),
        "provider",
        pl.lit("Assen").alias("municipality"),
        "care_form",
        "financing",
        pl.col("start_date").cast(pl.Date),
        pl.col("end_date").cast(pl.Date),
        (2013 - pl.col("age").cast(pl.Int64)).alias("birth_year"),
    )


def write_linked(
    rows: pl.DataFrame, path: Path, created: str = "2014-02-20T09:00:00+00:00"
) -> Path:
    inputs = [
        {"provider": code, "sha256": hashlib.sha256(code.encode()).hexdigest(),
         "rows": rows.filter(pl.col("provider") == code).height, "rows_by_status": {},
         "created": created}
        for code in PROVIDERS
    ]  # fmt: skip
    manifest = Manifest(
        format=schema.FORMAT_LINKED, scheme=schema.SCHEME, round="dutch-test",
        key_id="0123456789abcdef", key_fingerprint="1a2b-3c4d-5e6f-7a8b-9c0d-1e2f-3a4b-5c6d",
        rows=rows.height, rows_by_status={}, stage=2, inputs=inputs, created=created,
    )  # fmt: skip
    write_parquet(rows, path, manifest)
    return path


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_linked(rows_2013(), tmp_path_factory.mktemp("dutch") / "linked.parquet")


@pytest.fixture(scope="module")
def report_2014(linked: Path):  # type: ignore[no-untyped-def]
    return build_report(linked, round_2014(), generated=GENERATED)


# --- language and formatting ---------------------------------------------------------------------


def test_dutch_numbers_percentages_dates_and_periods() -> None:
    assert i18n.number("nl", 8240) == "8.240"
    assert i18n.number("en", 8240) == "8,240"
    assert i18n.percent("nl", 35.7) == "35,7\u00a0%"
    assert i18n.day("nl", date(2013, 1, 1)) == "1 januari 2013"
    assert i18n.period_name("nl", "2013H1") == "2013 1e halfjaar"
    assert i18n.period_name("nl", "2013Q2") == "2013 2e kwartaal"
    assert i18n.period_name("nl", "2013-03") == "maart 2013"
    assert i18n.period_name("nl", "2013-01-01..2013-06-30") == "1 januari 2013 t/m 30 juni 2013"
    with pytest.raises(ValueError, match="language 'fr'"):
        i18n.text("fr", "total")


def test_every_message_exists_in_every_language() -> None:
    assert set(MESSAGES["nl"]) == set(MESSAGES["en"])
    for language, table in MESSAGES.items():
        for key, message in table.items():
            fields = set(re.findall(r"{(\w+)}", message))
            other = MESSAGES["en" if language == "nl" else "nl"][key]
            assert fields == set(re.findall(r"{(\w+)}", other)), key


def _visible_html(page: str) -> str:
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def _english_words(text: str) -> list[str]:
    lowered = re.sub(r"\S*toml\S*", " ", text.lower())  # file names are names
    return [w for w in ENGLISH if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", lowered)]


def test_the_dutch_report_holds_no_english_word(report_2014, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # provenance values are codes and digests of files; the words around them are Dutch
    markdown = render_markdown(report_2014)
    assert _english_words(markdown) == []
    assert _english_words(_visible_html(render_html(report_2014))) == []
    path = write_report(report_2014, tmp_path / "rapport.xlsx")
    with zipfile.ZipFile(path) as archive:
        strings = archive.read("xl/sharedStrings.xml").decode()
        workbook = archive.read("xl/workbook.xml").decode()
    assert _english_words(re.sub(r"<[^>]+>", " ", strings)) == []
    sheets = re.findall(r'<sheet name="([^"]+)"', workbook)
    assert "kerncijfers" in sheets
    assert "datakwaliteit" in sheets
    assert _english_words(" ".join(sheets)) == []


def test_numbers_in_the_dutch_report_are_written_dutch(report_2014) -> None:  # type: ignore[no-untyped-def]
    markdown = render_markdown(report_2014)
    assert re.search(r"\| [0-9]{1,3}\.[0-9]{3} \|", markdown), "thousands with a dot"
    assert not re.search(r"\| [0-9]{1,3},[0-9]{3} \|", markdown)
    assert "1 januari 2013" in markdown
    assert report_2014.language == "nl"
    assert report_2014.legend[:3] == (". geheim", "– nihil", "x kan niet voorkomen")
    assert report_2014.source_line.startswith("Bron: ")
    assert report_2014.status_line.startswith("Voorlopige cijfers")
    assert report_2014.published == "1 maart 2014"
    assert "unieke jeugdigen" in report_2014.reading_guide


def test_language_en_writes_english(linked: Path) -> None:
    report = build_report(linked, RoundConfig(language="en", dimensions=("care_form",)))
    assert report.tables[0].title == "Unique clients by care form"
    assert "8,2" not in report.meta[0]


# --- nothing unprotected in free text ------------------------------------------------------------


def _exact_cells(rows: pl.DataFrame) -> set[int]:
    """Exact unique clients per care form × financing cell and column on 1 January 2013."""
    day = date(2013, 1, 1)
    active = rows.filter(
        pl.col("pseudonym").is_not_null(),
        pl.col("start_date") <= day,
        pl.col("end_date").is_null() | (pl.col("end_date") >= day),
    )
    cells = active.group_by("care_form", "financing").agg(pl.col("pseudonym").n_unique())
    columns = active.group_by("financing").agg(pl.col("pseudonym").n_unique())
    return {*cells["pseudonym"].to_list(), *columns["pseudonym"].to_list()}


def test_a_note_with_an_exact_count_is_refused_naming_the_note(
    linked: Path, tmp_path: Path
) -> None:
    config = round_2014()
    exact = rows_2013().pipe(_exact_cells)
    sneaky = sorted(n for n in exact if n % 5)[0]  # a count that rounding would change
    texts = dict(config.adjustment_text)
    texts["pgb"] = {**texts["pgb"], "note": f"The AWBZ column held {sneaky:,} youths."}
    bad = RoundConfig(**{**config.__dict__, "adjustment_text": texts})
    with pytest.raises(ConfigError) as caught:
        build_report(linked, bad)
    message = str(caught.value)
    assert "corrections.adjustment.pgb.note" in message
    assert str(sneaky) not in message
    assert f"{sneaky:,}" not in message
    # An internal report may say it: it is exact anyway.
    assert build_report(linked, bad, internal=True).estimate is not None


def test_placeholders_render_the_published_value_and_no_exact_count_appears(
    report_2014, linked: Path
) -> None:  # type: ignore[no-untyped-def]
    view = report_2014.estimate
    assert view is not None
    markdown = render_markdown(report_2014)
    published = {n for line in view.lines for n in (line.observed, line.value) if n is not None}
    unpublished = _exact_cells(rows_2013()) - published - {0}
    for line in view.lines:
        if line.observed is not None:
            assert i18n.number("nl", line.observed) in line.note
        written = set(numbers_in(line.note))
        assert not written & unpublished, line.name
    assert "registraties" in markdown.split("| stap |")[1].split("\n")[0]


def test_data_quality_rows_are_published_and_zeros_are_nil(report_2014) -> None:  # type: ignore[no-untyped-def]
    quality = next(t for t in report_2014.tables if t.id == "data-quality")
    grid = table_grid(quality, internal=False)
    by_row = {row[0]: row for row in grid.rows}
    valid = grid.header.index("geldig")
    missing = grid.header.index("ontbreekt")
    assert by_row["E"][valid] == NIL  # P05 delivered no BSN at all, and it shows
    assert by_row["E"][missing] == 40
    assert None not in [cell for row in grid.rows for cell in row]


def test_structural_empties_publish_the_jbjr_total(report_2014) -> None:  # type: ignore[no-untyped-def]
    cross = next(t for t in report_2014.tables if t.id == "cross")
    grid = table_grid(cross, internal=False)
    jbjr = next(row for row in grid.rows if row[0] == "Jeugdbescherming / jeugdreclassering")
    header = list(grid.header)
    assert jbjr[header.index("ZVW")] == jbjr[header.index("AWBZ")] == STRUCTURAL
    assert isinstance(jbjr[header.index("totaal")], int)
    assert jbjr[header.index("totaal")] == jbjr[header.index("Begroting")]


def test_structural_empty_is_a_round_config_key() -> None:
    config = parse_round_config(
        {"version": 1, "structural_empty": [{"care_form": "JB/JR", "financing": "PGB"}]}
    )
    assert dict(config.rules.structural_empty[0]) == {"care_form": "JB/JR", "financing": "PGB"}
    with pytest.raises(ConfigError, match=r"structural_empty\[1\].postcode: unknown dimension"):
        parse_round_config({"version": 1, "structural_empty": [{"postcode": "9401"}]})


# --- categories -----------------------------------------------------------------------------------


def test_age_groups_in_age_order_and_configured_order_and_labels(linked: Path) -> None:
    assert value_order("age_group", ["12-17", "0-3", "18-22", "4-11", "unknown"]) == (
        "0-3", "4-11", "12-17", "18-22", "unknown",
    )  # fmt: skip
    config = RoundConfig(
        reference_date=date(2013, 1, 1),
        dimensions=("age_group", "care_form"),
        cross=(),
        order={"care_form": ("verblijf",)},
        labels={"care_form": {"ambulant": "ambulante hulp"}},
    )
    report = build_report(linked, config)
    ages = [row[0] for row in table_grid(report.tables[0], internal=False).rows[:-1]]
    lows = [int(re.match(r"[0-9]+", age).group()) for age in ages if age[0].isdigit()]  # type: ignore[union-attr]
    assert lows == sorted(lows)
    assert len(lows) > 1
    forms = [row[0] for row in table_grid(report.tables[1], internal=False).rows]
    assert forms[:2] == ["verblijf", "ambulante hulp"]
    assert forms[-2:] == ["Jeugdbescherming / jeugdreclassering", "totaal"]


# --- periods --------------------------------------------------------------------------------------


def test_a_period_after_the_delivery_is_warned_about_and_open_episodes_are_capped(
    linked: Path, tmp_path: Path
) -> None:
    late = RoundConfig(period=parse_period("2014H2"), dimensions=("care_form",))
    report = build_report(linked, late)
    assert any("na de laatste levering" in text for text in report.warnings)
    assert "na de laatste levering" in render_markdown(report)
    # Open episodes end on the delivery day (20 February 2014): only closed ones reach 2014H2.
    rows = rows_2013()
    expected = rows.filter(
        pl.col("pseudonym").is_not_null(),
        pl.col("end_date") >= date(2014, 7, 1),
        pl.col("start_date") <= date(2014, 12, 31),
    )["pseudonym"].n_unique()
    exact = build_report(linked, late, internal=True)
    total = exact.tables[0].source.frame.filter(pl.col("care_form").is_null())
    assert total["unique_clients"].to_list() == [expected]
    early = build_report(linked, RoundConfig(period=parse_period("2011"), cross=()))
    assert any("vóór het eerste begin" in text for text in early.warnings)
    config = tmp_path / "late.toml"
    config.write_text('version = 1\nperiod = "2014H2"\ndimensions = ["care_form"]\n', "utf-8")
    result = CliRunner().invoke(
        main, ["report", str(linked), "--config", str(config), "--out", str(tmp_path / "r.md")]
    )
    assert result.exit_code == 0, result.output
    assert "warning" in result.output
    assert "na de laatste levering" in result.output


def test_report_builtin_2014_writes_the_dutch_report(linked: Path, tmp_path: Path) -> None:
    html, xlsx = tmp_path / "rapport.html", tmp_path / "rapport.xlsx"
    result = CliRunner().invoke(
        main, ["report", str(linked), "--builtin", "2014", "--out", str(html), "--out", str(xlsx)]
    )
    assert result.exit_code == 0, result.output
    assert html.exists()
    assert xlsx.exists()
    assert "Jeugdhulp in Drenthe op 1 januari 2013" in html.read_text("utf-8")
    both = CliRunner().invoke(
        main,
        ["report", str(linked), "--builtin", "2014", "--config", str(tmp_path / "x.toml"),
         "--out", str(tmp_path / "y.md")],
    )  # fmt: skip
    assert both.exit_code != 0


@pytest.mark.slow
def test_demo_writes_the_dutch_report(tmp_path: Path) -> None:
    import factlab.cli.demo  # noqa: F401  (registers `factlab demo`)

    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html, xlsx = out / "trusted" / "rapport-2014.html", out / "trusted" / "rapport-2014.xlsx"
    assert html.exists()
    assert xlsx.exists()
    page = html.read_text("utf-8")
    # the exact counts behind the 2014 corrections never reach the public page
    for exact in ("5.411", "5,411", "1.082", "= 601", "≈ 601"):
        assert exact not in page, exact
    assert "5.410 × 0,1 / 0,9 ≈ 600" in page
    # every row of clients by number of providers is published there, so the figure is shown
    assert re.search(r"Jeugdigen bij twee of meer aanbieders</t[hd]>\s*<td[^>]*>[0-9.]+<", page)
    assert "Verklaring van tekens" in page
    assert "8.240" in page
    assert str(html) in result.output.strip().splitlines()[-1]


def test_a_period_running_past_the_delivery_is_warned_about_per_part(linked: Path) -> None:
    """Review #16 item 6: period 2014, delivered 20 February 2014: ten months unseen."""
    parts = (parse_period("2014H1"), parse_period("2014H2"))
    config = RoundConfig(period=parse_period("2014"), parts=parts, dimensions=("care_form",))
    report = build_report(linked, config)
    whole = i18n.percent("nl", 100 * 51 / 365)  # 1 January to 20 February 2014
    half = i18n.percent("nl", 100 * 51 / 181)
    assert any("(periode 2014) loopt door" in t and whole in t for t in report.warnings)
    assert any("1e halfjaar) loopt door" in t and half in t for t in report.warnings)
    assert any("2e halfjaar) ligt na de laatste levering" in t for t in report.warnings)
    assert "loopt door na de laatste levering" in render_markdown(report)


def test_a_part_with_nobody_in_care_stops_with_the_part_named() -> None:
    rows = pl.DataFrame(
        {
            "pseudonym": ["a" * 32],
            "start_date": [date(2013, 1, 1)],
            "end_date": [date(2014, 1, 31)],
        }
    )
    config = RoundConfig(
        period=parse_period("2014"), parts=(parse_period("2014H1"), parse_period("2014H2"))
    )
    refuse_empty(rows, RoundConfig(period=parse_period("2014H1")), ())  # someone in care
    with pytest.raises(DataError, match=r"in the counted time \(part 2014H2\): why"):
        refuse_empty(rows, config, ("why",))


def test_a_period_after_the_data_is_warned_about_without_a_delivery_date(tmp_path: Path) -> None:
    """The case of the issue: 2013 data, a manifest written years later, a later period."""
    later = write_linked(rows_2013(), tmp_path / "later.parquet", created="2026-01-10T09:00:00Z")
    report = build_report(
        later, RoundConfig(period=parse_period("2016"), dimensions=("care_form",))
    )
    assert any("na de laatste datum in de gegevens" in text for text in report.warnings)
    assert not any("na de laatste levering" in text for text in report.warnings)


def test_a_period_with_nobody_in_care_stops_with_the_reason(linked: Path) -> None:
    config = RoundConfig(period=parse_period("2025"), dimensions=("care_form",))
    with pytest.raises(DataError, match="no client with a valid BSN is in care") as caught:
        build_report(linked, config)
    assert "na de laatste levering (20 februari 2014)" in str(caught.value)


def _content(report) -> str:  # type: ignore[no-untyped-def]
    """Every word and number of a report's content, renderer-independent (no provenance)."""
    lines = [report.title, *report.meta, report.status_line, report.reading_guide]
    lines += [*report.warnings, *report.legend, report.source_line]
    grids = [("kerncijfers", figures_grid(report))]
    grids += [(table.caption, table_grid(table, internal=False)) for table in report.tables]
    if report.estimate is not None:
        grids.append((report.estimate.title, estimate_grid(report.estimate)))
    for caption, grid in grids:
        lines += ["", f"## {caption}", " | ".join(grid.header)]
        lines += [" | ".join(cell_text(cell, grid.language) for cell in row) for row in grid.rows]
    for table in report.tables:
        lines += table.notes
    if report.estimate is not None:
        lines += [f"{line.label}: {line.note} ({line.source})" for line in report.estimate.lines]
    return "\n".join([*lines, *report.notes]) + "\n"


def test_dutch_report_snapshot(report_2014) -> None:  # type: ignore[no-untyped-def]
    """A changed figure, label or word of the Dutch 2014 report fails here; update on purpose
    with FACTLAB_UPDATE_SNAPSHOTS=1 and read the diff."""
    text = _content(report_2014)
    if os.environ.get("FACTLAB_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_a_key_figure_never_adds_up_suppressed_cells(report_2014) -> None:  # type: ignore[no-untyped-def]
    """total − at one provider = the sum of the other rows; with one of them suppressed that
    sum would narrow a suppressed cell, so the figure is not shown."""
    distribution = next(t for t in report_2014.tables if t.id == "providers-per-client")
    rows = table_grid(distribution, internal=False).rows
    assert None in [row[1] for row in rows[1:-1]]
    figures = {row[0]: row[1] for row in figures_grid(report_2014).rows}
    assert figures["Jeugdigen bij twee of meer aanbieders"] is None


def test_capture_recapture_speaks_dutch(linked: Path) -> None:
    config = RoundConfig(
        reference_date=date(2013, 1, 1),
        dimensions=("care_form",),
        cross=(),
        capture_recapture=CaptureRecapture(model="independence"),
    )
    report = build_report(linked, config)
    assert report.unseen is not None
    sentence = unseen_sentence(report.unseen)
    assert sentence.startswith("De raming telt unieke jeugdigen in zorg")
    assert report.unseen.assumptions[0].startswith("gesloten populatie")
    grid = unseen_grid(report.unseen)
    assert grid.header == ("", "jeugdigen", "95%-interval")
    assert _english_words(" ".join([sentence, *report.unseen.assumptions])) == []


def test_no_capture_recapture_estimate_is_said_in_dutch() -> None:
    rows = rows_2013().filter(pl.col("provider").is_in(["P01", "P02"]))
    rows = rows.filter(~pl.col("pseudonym").is_duplicated())  # the two share no one
    config = RoundConfig(cross=(), dimensions=("care_form",), capture_recapture=CaptureRecapture())
    report = build_report(rows, config)
    assert report.unseen is None
    assert any(note.startswith("Geen vangst-hervangstraming") for note in report.notes)
    assert _english_words(" ".join(report.notes)) == []


def test_a_bsn_in_free_text_is_refused_in_every_report(
    linked: Path, test_bsns: tuple[str, ...]
) -> None:
    bsn = test_bsns[0]
    config = RoundConfig(
        dimensions=("care_form",), cross=(), labels={"care_form": {"verblijf": f"x {bsn}"}}
    )
    for internal in (False, True):
        with pytest.raises(
            ConfigError, match=r"labels\.care_form\.verblijf: holds a number"
        ) as caught:
            build_report(linked, config, internal=internal)
        assert bsn not in str(caught.value)
