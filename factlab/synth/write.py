"""Writing synthetic provider exports in the forms real exports come in.

An :class:`ExportForm` says how one provider writes: CSV with ``;`` or ``,``, UTF-8 with or without
BOM or Windows-1252, Excel or Parquet; Dutch or English column names; Dutch dates and decimal
commas; BSNs stored as numbers. :func:`write_exports` writes one file per provider from the rows
:func:`factlab.synth.draw.synth_frame` makes and returns the ground truth of what each file holds
(rows per BSN status, persons), so tests can check the steward.

The same rows and forms give the same bytes (Excel files get a fixed creation time).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
import polars as pl
from xlsxwriter import Workbook

from factlab import schema
from factlab.errors import ConfigError
from factlab.io import atomic_path

__all__ = [
    "COLUMN_NAMES",
    "SEX_CODES",
    "ExportForm",
    "GroundTruth",
    "ProviderExport",
    "SynthResult",
    "write_export",
    "write_exports",
]

#: An Excel sheet holds this many data rows below its header.
XLSX_MAX_ROWS: Final = 1_048_575
#: File formats an export can have.
FILE_FORMATS: Final = ("csv", "xlsx", "parquet")
#: How a provider writes every BSN (``plain``: nine digits).
BSN_STYLES: Final = ("plain", "dots", "spaces", "hyphens")
_ENCODINGS: Final = ("utf-8", "utf-8-sig", "cp1252")
_CSV_CHUNK: Final = 500_000
# Excel files embed their creation time; a fixed one keeps the bytes reproducible.
_XLSX_CREATED: Final = datetime(2000, 1, 1)

# Column names per field in each naming style: canonical, English, Dutch, another Dutch.
_NAMES: Final = {
    "bsn": ("bsn", "BSN", "BSN", "BSN cliënt"),
    "birth_date": ("birth_date", "Birth date", "Geboortedatum", "geboorte_datum"),
    "birth_year": ("birth_year", "Birth year", "Geboortejaar", "geboorte-jaar"),
    "sex": ("sex", "Sex", "Geslacht", "geslacht"),
    "municipality": ("municipality", "Municipality", "Woongemeente", "gemeente"),
    "domain": ("domain", "Domain", "Domein", "domein"),
    "financing": ("financing", "Financing", "Financieringsstroom", "financiering"),
    "care_form": ("care_form", "Care form", "Zorgvorm", "zorg vorm"),
    "product_category": (
        "product_category",
        "Product category",
        "Productcategorie",
        "product-categorie",
    ),
    "start_date": ("start_date", "Start date", "Begindatum", "Start datum"),
    "end_date": ("end_date", "End date", "Einddatum", "Eind datum"),
    "cost": ("cost", "Cost", "Bedrag", "Kosten"),
}
#: Column names per naming style; the steward recognises all of them without a mapping.
COLUMN_NAMES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        style: MappingProxyType({field: names[index] for field, names in _NAMES.items()})
        for index, style in enumerate(("canonical", "english", "dutch", "dutch_alt"))
    }
)
#: How sex is written: codes for male, female, other (unknown is always an empty cell).
SEX_CODES: Final = (("M", "V", "X"), ("man", "vrouw", "X"), ("m", "f", "X"))


@dataclass(frozen=True)
class ExportForm:
    """How one provider writes its export.

    Attributes:
        file_format: ``csv``, ``xlsx`` or ``parquet``.
        delimiter: CSV field separator.
        encoding: CSV encoding: ``utf-8``, ``utf-8-sig`` (with BOM) or ``cp1252`` (CRLF lines).
        names: column-name style, a key of :data:`COLUMN_NAMES`.
        date_format: strftime format of dates in a CSV (Excel and Parquet hold native dates).
        decimal_comma: costs in a CSV as ``1234,56`` (every other provider adds thousand dots).
        thousands: write a thousands separator with the decimal comma (``1.234,56``).
        bsn_as_number: the BSN column holds numbers, so a leading zero is lost.
        no_bsn: the BSN column is there but empty.
        birth: ``date`` (a birth-date column) or ``year`` (a birth-year column).
        sex_codes: how male, female and other are written.
        bsn_style: how this provider writes every BSN (``plain``: nine digits, except the
            share :attr:`~factlab.synth.config.Messiness.formatted` written with dots, spaces
            or hyphens at random).
    """

    file_format: str = "csv"
    delimiter: str = ","
    encoding: str = "utf-8"
    names: str = "canonical"
    date_format: str = "%Y-%m-%d"
    decimal_comma: bool = False
    thousands: bool = False
    bsn_as_number: bool = False
    no_bsn: bool = False
    birth: Literal["date", "year"] = "date"
    sex_codes: tuple[str, str, str] = ("M", "V", "X")
    bsn_style: Literal["plain", "dots", "spaces", "hyphens"] = "plain"

    @property
    def extension(self) -> str:
        """File name extension (without the dot)."""
        return self.file_format

    def problems(self) -> list[str]:
        """What is wrong with this form, one line per bad field (empty when it can be written)."""
        checks = {
            "file_format": self.file_format in FILE_FORMATS,
            "delimiter": len(self.delimiter) == 1 and self.delimiter not in '\r\n"',
            "encoding": self.encoding in _ENCODINGS,
            "names": self.names in COLUMN_NAMES,
            "birth": self.birth in ("date", "year"),
            "bsn_style": self.bsn_style in BSN_STYLES,
            "sex_codes": len(self.sex_codes) == 3,
        }
        return [
            f"{name}: {getattr(self, name)!r} is not allowed"
            for name, ok in checks.items()
            if not ok
        ]


@dataclass(frozen=True)
class ProviderExport:
    """One written export and the ground truth of what is in it.

    Attributes:
        provider: provider code, e.g. ``P01``.
        path: the file written.
        form: how it was written.
        rows: number of data rows.
        rows_by_status: rows per BSN status the steward should find (every status, zeros too).
        persons: distinct persons in the file.
        valid_persons: distinct persons with at least one row with a valid BSN.
    """

    provider: str
    path: Path
    form: ExportForm
    rows: int
    rows_by_status: Mapping[str, int]
    persons: int
    valid_persons: int


@dataclass(frozen=True)
class GroundTruth:
    """What an oracle needs about all exports together.

    Attributes:
        rows: rows over all files.
        rows_by_status: rows per BSN status over all files.
        unique_persons: distinct persons over all files.
        linkable_persons: distinct persons with at least one valid BSN row (what linking on
            pseudonyms can find).
        persons_by_provider_count: number of persons at exactly k providers, per k.
    """

    rows: int
    rows_by_status: Mapping[str, int]
    unique_persons: int
    linkable_persons: int
    persons_by_provider_count: Mapping[int, int]


@dataclass(frozen=True)
class SynthResult:
    """The exports a generator wrote and their ground truth.

    Attributes:
        outdir: folder the files are in.
        seed: the seed used.
        exports: one entry per provider, in provider order.
        truth: ground truth over all exports.
    """

    outdir: Path
    seed: int
    exports: tuple[ProviderExport, ...]
    truth: GroundTruth

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (file names relative to ``outdir``; no BSN anywhere)."""
        return {
            "seed": self.seed,
            "exports": [
                {
                    "provider": export.provider,
                    "file": export.path.name,
                    "form": asdict(export.form),
                    "rows": export.rows,
                    "rows_by_status": dict(export.rows_by_status),
                    "persons": export.persons,
                    "valid_persons": export.valid_persons,
                }
                for export in self.exports
            ],
            "truth": {
                "rows": self.truth.rows,
                "rows_by_status": dict(self.truth.rows_by_status),
                "unique_persons": self.truth.unique_persons,
                "linkable_persons": self.truth.linkable_persons,
                "persons_by_provider_count": {
                    str(k): v for k, v in self.truth.persons_by_provider_count.items()
                },
            },
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _dutch_amount(expr: pl.Expr, *, thousands: bool) -> pl.Expr:
    """Euros as Dutch text: ``1234,56``, or ``1.234,56`` with thousand separators."""
    cents = (expr * 100).round(0).cast(pl.Int64)
    euros = cents // 100
    fraction = (cents % 100).cast(pl.String).str.zfill(2)

    def group(value: pl.Expr) -> pl.Expr:
        return (value % 1000).cast(pl.String).str.zfill(3)

    whole = euros.cast(pl.String)
    if thousands:
        whole = (
            pl.when(euros >= 1_000_000)
            .then(
                pl.concat_str(
                    [euros // 1_000_000, group(euros // 1000), group(euros)], separator="."
                )
            )
            .when(euros >= 1000)
            .then(pl.concat_str([euros // 1000, group(euros)], separator="."))
            .otherwise(whole)
        )
    return pl.when(expr.is_null()).then(None).otherwise(whole + "," + fraction)


def _export_frame(rows: pl.DataFrame, form: ExportForm) -> pl.DataFrame:
    """The columns a provider delivers, typed and named as it writes them."""
    names = COLUMN_NAMES[form.names]
    if form.no_bsn:
        bsn = pl.lit(None, dtype=pl.String)
    elif form.bsn_as_number:
        bsn = pl.col("bsn_written").cast(pl.Int64)
    else:
        bsn = pl.col("bsn_written")
    male, female, other = form.sex_codes
    columns: dict[str, pl.Expr] = {
        "bsn": bsn,
        "birth_date": pl.col("birth_date"),
        "birth_year": pl.col("birth_date").dt.year().cast(pl.Int16),
        "sex": pl.col("sex").replace_strict(
            {"M": male, "V": female, "X": other}, default=None, return_dtype=pl.String
        ),
    }
    del columns["birth_year" if form.birth == "date" else "birth_date"]
    fields = (*columns, *(name for name in schema.FIELD_DTYPES if name not in columns))
    present = [name for name in fields if name in columns or name in rows.columns]
    exprs = [columns.get(name, pl.col(name)).alias(names[name]) for name in present]
    if form.file_format == "csv" and form.decimal_comma and "cost" in present:
        exprs[present.index("cost")] = _dutch_amount(
            pl.col("cost"), thousands=form.thousands
        ).alias(names["cost"])
    return rows.select(exprs)


def _write_csv(frame: pl.DataFrame, target: Path, form: ExportForm) -> None:
    options: dict[str, Any] = {
        "separator": form.delimiter,
        "date_format": form.date_format,
        "float_precision": 2,
    }
    if form.encoding != "cp1252":
        frame.write_csv(target, include_bom=form.encoding == "utf-8-sig", **options)
        return
    with open(target, "wb") as handle:
        # Chunks keep memory bounded; each is encoded to Windows-1252 whole, not row by row.
        for offset in range(0, max(frame.height, 1), _CSV_CHUNK):
            text = frame.slice(offset, _CSV_CHUNK).write_csv(
                None, include_header=offset == 0, line_terminator="\r\n", **options
            )
            handle.write(text.encode("cp1252"))


def _write_xlsx(frame: pl.DataFrame, target: Path) -> None:
    options = {"strings_to_formulas": False, "strings_to_urls": False}
    with Workbook(str(target), options) as workbook:
        workbook.set_properties({"created": _XLSX_CREATED})
        frame.write_excel(workbook, worksheet="Cliënten", autofilter=False, float_precision=2)


def write_export(rows: pl.DataFrame, path: str | Path, form: ExportForm) -> None:
    """Write one provider's rows (as :func:`synth_frame` gives them) in its written form.

    The file appears atomically: a failed write leaves nothing behind.

    Raises:
        ConfigError: the form is invalid, or a CSV in Windows-1252 cannot hold a character of
            the data.
    """
    path = Path(path)
    if problems := form.problems():
        raise ConfigError(f"export form of {path.name}", problems)
    frame = _export_frame(rows, form)
    with atomic_path(path) as temporary:
        if form.file_format == "csv":
            try:
                _write_csv(frame, temporary, form)
            except UnicodeEncodeError as exc:
                problem = f"{path.name}: a value cannot be written in Windows-1252 ({exc.reason})"
                raise ConfigError("synth export", [problem]) from exc
        elif form.file_format == "xlsx":
            _write_xlsx(frame, temporary)
        else:
            frame.write_parquet(temporary, compression="zstd")


def _status_counts(frame: pl.DataFrame) -> dict[str, int]:
    counts = dict.fromkeys(schema.STATUSES, 0)
    table = frame[schema.STATUS].cast(pl.String).value_counts()
    counts.update(zip(table[schema.STATUS].to_list(), table["count"].to_list(), strict=True))
    return counts


def _provider_runs(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Provider rows as consecutive runs (sorted first if they are not)."""
    runs = frame["provider"].rle().struct.unnest()
    if runs["value"].is_duplicated().any():
        frame = frame.sort("provider", maintain_order=True)
        runs = frame["provider"].rle().struct.unnest()
    return frame, runs.with_columns(offset=pl.col("len").cum_sum() - pl.col("len"))


def write_exports(
    frame: pl.DataFrame,
    forms: Sequence[ExportForm],
    outdir: str | Path,
    *,
    seed: int,
    on_file: Callable[[ProviderExport], None] | None = None,
) -> SynthResult:
    """Write every provider's export of ``frame`` and summarise what was written.

    ``frame`` is shaped as :func:`synth_frame` returns it; ``forms`` holds one written form per
    provider, in sorted order of the provider codes. Files are named ``<provider>.<format>``.

    Raises:
        ConfigError: the forms do not match the providers, or an Excel export would have more
            rows than a sheet holds (checked before anything is written).
    """
    outdir = Path(outdir)
    frame, runs = _provider_runs(frame)
    runs = runs.sort("value")
    if runs.height != len(forms):
        raise ConfigError("synth export", [f"{len(forms)} forms for {runs.height} providers"])
    slices = list(zip(runs["value"], runs["offset"], runs["len"], forms, strict=True))
    too_big = [
        f"{code}: {length} rows do not fit an Excel sheet ({XLSX_MAX_ROWS})"
        for code, _, length, form in slices
        if form.file_format == "xlsx" and length > XLSX_MAX_ROWS
    ]
    if too_big:
        raise ConfigError("messiness.file_formats", too_big)
    outdir.mkdir(parents=True, exist_ok=True)
    person = frame["person"].to_numpy()
    valid = (frame[schema.STATUS] == "valid").to_numpy()
    persons = int(person.max()) + 1 if len(person) else 0
    providers_of = np.zeros(persons, dtype=np.int32)
    linkable = np.zeros(persons, dtype=bool)
    exports = []
    for code, offset, length, form in slices:
        rows = frame.slice(offset, length)
        path = outdir / f"{code}.{form.extension}"
        write_export(rows, path, form)
        # Marks per person, one provider at a time: vectorised, and no sort of all rows.
        here = np.zeros(persons, dtype=bool)
        here[person[offset : offset + length]] = True
        valid_here = np.zeros(persons, dtype=bool)
        valid_here[person[offset : offset + length][valid[offset : offset + length]]] = True
        providers_of += here
        linkable |= valid_here
        export = ProviderExport(
            provider=code,
            path=path,
            form=form,
            rows=length,
            rows_by_status=MappingProxyType(_status_counts(rows)),
            persons=int(here.sum()),
            valid_persons=int(valid_here.sum()),
        )
        exports.append(export)
        if on_file is not None:
            on_file(export)
    spread = np.bincount(providers_of)
    truth = GroundTruth(
        rows=frame.height,
        rows_by_status=MappingProxyType(_status_counts(frame)),
        unique_persons=int((providers_of > 0).sum()),
        linkable_persons=int(linkable.sum()),
        persons_by_provider_count=MappingProxyType(
            {k: int(n) for k, n in enumerate(spread) if k > 0 and n > 0}
        ),
    )
    return SynthResult(outdir=outdir, seed=seed, exports=tuple(exports), truth=truth)
