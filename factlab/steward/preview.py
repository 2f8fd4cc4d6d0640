"""The steward's preview: everything ``pseudonymise`` would do and write, without writing.

:func:`preview_file` reads the export, pseudonymises it in memory with the mapping and the round's
contract, and returns what the steward checks before the real run: what became of every column,
the values not mapped, the quality summary, whether the contract would refuse the file (and why),
and the first rows of the output exactly as they would be written. The rows hold pseudonyms, never
a BSN; their text values are codes (municipality, care form, …) shown on the steward's own machine.
:func:`shown_rows` is how the command and the app show those rows: as text, pseudonyms shortened,
and any value with six digits or more masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab.keys.round_keys import Key
from factlab.steward.blind import BlindService
from factlab.steward.contract import Contract
from factlab.steward.mapping import ColumnMapping
from factlab.steward.pseudonymise import read_and_check
from factlab.steward.quality import Quality

__all__ = ["Preview", "preview_file", "shown_rows"]

#: Rows of the output a preview shows by default.
PREVIEW_ROWS: Final = 10
#: A value of the preview with this many digits is masked to its last two characters (a
#: number with this many digits before its decimal point).
MASKED_DIGITS: Final = 6
_MASK: Final = "*******"


@dataclass(frozen=True)
class Preview:
    """What ``pseudonymise`` would write, and what it would refuse.

    Attributes:
        rows: the first rows of the output, as they would be written.
        quality: the quality summary: columns, values not mapped, the contract check.
        problems: why the round's contract would refuse the file (empty: it would be written).
        read_as: how the export was read (format, encoding, delimiter, …).
        decimal_comma: how amounts were read.
        mapping: where the mapping came from.
    """

    rows: pl.DataFrame
    quality: Quality
    problems: tuple[str, ...] = ()
    read_as: dict[str, Any] = field(default_factory=dict)
    decimal_comma: bool | None = None
    mapping: str = ""

    @property
    def would_be_refused(self) -> bool:
        """Whether ``pseudonymise`` would refuse the file (and write nothing)."""
        return bool(self.problems)


def preview_file(
    input_path: str | Path,
    key: Key | BlindService,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    fallback: tuple[str, ...] | None = None,
    allow_no_valid_bsn: bool = False,
    contract: Contract | None = None,
    rows: int = PREVIEW_ROWS,
) -> Preview:
    """Everything :func:`~factlab.steward.pseudonymise.pseudonymise_file` does but the writing.

    What the round's contract refuses is returned in :attr:`Preview.problems` instead of raised;
    every other error is raised as by ``pseudonymise_file``. In a blind round (``key`` is a
    :class:`BlindService`) the key services are not asked: the preview's pseudonyms are null.

    Raises:
        InputError: the export cannot be read, has no BSN column, a text field holds values that
            look like a BSN, or no row has a valid BSN (without ``allow_no_valid_bsn``).
        ConfigError: the mapping is invalid.

    Example:
        >>> import tempfile, pathlib
        >>> from factlab.keys.round_keys import new_round_key
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "export.csv").write_text("BSN;Naam\\n999993653;Zoë\\n")
        >>> preview = preview_file(folder / "export.csv", new_round_key("doc"), provider="P01")
        >>> preview.rows.columns, [use.fields for use in preview.quality.columns]
        (['pseudonym', 'bsn_status', 'provider'], [('bsn',), ()])
        >>> sorted(path.name for path in folder.iterdir())
        ['export.csv']
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise TypeError(f"preview_file: rows must be a whole number of at least 0; got {rows!r}")
    checked = read_and_check(
        input_path,
        key,
        provider=provider,
        mapping=mapping,
        fallback=fallback,
        allow_no_valid_bsn=allow_no_valid_bsn,
        contract=contract,
        refuse=False,
        where="preview_file",
        contact_services=False,
    )
    facts = checked.export.facts
    return Preview(
        rows=checked.result.frame.head(rows),
        quality=checked.result.quality,
        problems=checked.problems,
        read_as={name: value for name, value in facts.items() if name != "blank_rows"},
        decimal_comma=checked.decimal_comma,
        mapping=(mapping or ColumnMapping()).source,
    )


def shown_rows(frame: pl.DataFrame, *, ellipsis: str = "…") -> pl.DataFrame:
    """The preview's rows as the steward sees them: every column as text, pseudonyms shortened,
    control characters made visible, and a value that could hold a BSN masked.

    A text value with :data:`MASKED_DIGITS` or more digits, and a number with that many digits
    before its decimal point, keep only their last two characters: whatever the mapping put in a
    field, no BSN reaches the screen (the checks refuse one in any field; this is the second
    lock). Dates, statuses and the provider are shown as they are.

    Args:
        frame: the first rows of the output (:attr:`Preview.rows`).
        ellipsis: what marks a shortened pseudonym.

    Example:
        >>> frame = pl.DataFrame(
        ...     {"pseudonym": ["ab" * 16], "municipality": ["999993653"], "cost": [999993653.0]}
        ... )
        >>> shown_rows(frame, ellipsis="..").row(0)
        ('ababababab..', '*******53', '*******.0')
        >>> shown_rows(pl.DataFrame({"cost": [12345.5]})).row(0)
        ('12345.5',)
    """
    pseudonyms = [name for name in (schema.PSEUDONYM, schema.FALLBACK_PSEUDONYM) if name in frame]
    shown: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        text = pl.col(name).cast(pl.String)
        if name in pseudonyms:
            shown.append(text.str.slice(0, 10) + ellipsis)
            continue
        if dtype.is_numeric():
            digits = text.str.extract(r"^-?([0-9]*)", 1).str.len_chars()
        elif dtype.is_temporal() or dtype == pl.Boolean():
            shown.append(text)
            continue
        else:  # text, Categorical, Enum, and anything else read as its text
            text = text.str.replace_all(r"[\p{Cc}\p{Cf}]", "\ufffd")
            digits = text.str.count_matches(r"\p{N}")
        masked = pl.when(digits >= MASKED_DIGITS).then(_MASK + text.str.slice(-2))
        shown.append(masked.otherwise(text).alias(name))
    return frame.select(shown)
