"""The round configuration of a report (``ROUND.toml``): what to tabulate, how to protect it.

The file is TOML, versioned, and validated before any row is read: every problem is collected and
reported at once, each with the path of its field (see ``docs/reports.md``). Without a file the
defaults apply: all rows, the dimensions municipality, care form and financing that the data
hold, anonymised provider labels, the CBS disclosure preset and no corrections.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, Final, Literal

from factlab._export_checks import read_regular
from factlab.disclosure.rules import PRESETS, DisclosureRules, load_rules, rules_from_mapping
from factlab.errors import ConfigError, FactlabError, InputError
from factlab.estimation.corrections import Corrections, load_corrections
from factlab.io import file_sha256
from factlab.periods import Period, parse_date, parse_period
from factlab.reference.config import Reference
from factlab.report import i18n
from factlab.report.levels import (
    dimension_problem,
    expand_dimensions,
    hierarchy_problems,
    read_reference,
)
from factlab.report.presentation import (
    REPORT_DIMENSIONS,
    read_corrections_text,
    read_presentation,
    read_structural_empties,
    table_of,
    text_value,
    unknown_keys,
)

__all__ = [
    "BUILTIN_ROUNDS",
    "DEFAULT_DIMENSIONS",
    "REPORT_DIMENSIONS",
    "CaptureRecapture",
    "RoundConfig",
    "load_round_config",
    "parse_round_config",
    "round_2014",
]

#: Versions of the round configuration format this module reads.
SUPPORTED_VERSIONS: Final = (1,)
#: Dimensions tabulated when the configuration names none (those present in the data).
DEFAULT_DIMENSIONS: Final = ("municipality", "care_form", "financing")
#: The cross table shown when the configuration does not choose one and both are tabulated.
DEFAULT_CROSS: Final = ("care_form", "financing")

_TOP_KEYS: Final = (
    "version",
    "title",
    "region",
    "period",
    "parts",
    "reference_date",
    "dimensions",
    "cross",
    "providers",
    "disclosure",
    "corrections",
    "capture_recapture",
    "language",
    "publication",
    "delivery_date",
    "labels",
    "order",
    "structural_empty",
    "data_quality",
    "reference",
)
_PROVIDER_KEYS: Final = ("anonymise", "overlap")
_CORRECTION_KEYS: Final = ("file", "rounding", "title", "adjustment")
_CAPTURE_KEYS: Final = ("sources", "model", "criterion", "rounding")
# Each table of a report chooses its own measures and dimensions, so a round config may not.
_REPORT_DECIDES: Final = ("measures", "table")


@dataclass(frozen=True)
class CaptureRecapture:
    """The report's capture-recapture estimate (``[capture_recapture]``; docs/unseen.md).

    Attributes:
        sources: lists as (name, provider codes); empty: every provider is a list.
        model: ``auto`` (search), ``independence`` or interactions such as ``A:B,B:C``.
        criterion: ``bic`` or ``aic``, for the search.
        rounding: the estimate and its interval are published as multiples of this (at least
            the rules' rounding base); the interval is widened outwards to such multiples.
    """

    sources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    model: str = "auto"
    criterion: Literal["bic", "aic"] = "bic"
    rounding: int = 100


@dataclass(frozen=True)
class RoundConfig:
    """Settings of one round's report; validated on construction (ConfigError lists all problems).

    Attributes:
        title: title of the report (None: "Jeugdhulp in de regio" or its English form).
        region: the region the round covers, e.g. ``Drenthe``.
        period: count clients in care at any moment in this period (None: see below).
        parts: sub-periods of ``period`` that together cover it without overlap (e.g. its
            halves); they are protected together with the period.
        reference_date: count clients in care on this day instead of in a period. With neither
            a period nor a reference date every row counts.
        dimensions: dimensions to tabulate, one table each (None: those of
            :data:`DEFAULT_DIMENSIONS` that the data hold).
        cross: two dimensions shown as a cross table with the sum of its cells (None: care form ×
            financing when both are tabulated, or the corrections' dimensions; empty: none).
        anonymise_providers: show providers as ``A``, ``B``, ... instead of their codes.
        publish_overlap: publish the provider overlap matrix (``[providers] overlap``). A report
            without it may tabulate ``provider_group``: a group is the union of its providers,
            so beside the matrix (protected on its own) a group of two gives a + b - shared(a, b)
            away.
        rules: disclosure rules; the report decides each table's measures and dimensions.
        corrections: an optional corrections model (its dimensions become the cross table).
        corrections_rounding: corrected totals are model estimates, published as multiples of
            this (at least the rules' rounding base).
        capture_recapture: show a capture-recapture estimate of the youths no provider saw.
        source: where the configuration came from (a path, or ``defaults``).
        files: (what, name and SHA-256) of every file the configuration read, for provenance.
        language: the report's language, ``nl`` (default) or ``en``.
        status: ``provisional`` (voorlopig, default) or ``final`` (definitief).
        source_text: the "Bron" line (None: factlab and the number of providers).
        contact: who answers questions about the figures, or None.
        publication_date: the publication date shown (None: the day the report is made).
        delivery_date: open episodes (no end date) end on this day; a counted time after it
            is warned about (None: the latest delivery in the manifests, if any).
        labels: per dimension, value -> label (over the defaults of
            :mod:`factlab.report.labels`).
        order: per dimension, values in display order (before the default order).
        data_quality_rounding: rows delivered are published rounded to this (None: the rules'
            rounding base; at least that base). Rows are not persons, but a provider's rows
            bound its youths, so 1 to ``secret_max`` rows are secret too; zeros are published
            (a provider that delivered no valid BSN shows as "–").
        corrections_title: the corrections' title in the report (None: the model's own).
        adjustment_text: per adjustment name, ``label``, ``note`` and ``source`` shown instead
            of the model's own; ``{observed}``, ``{value}``, ``{low}``, ``{high}``,
            ``{counted}`` and ``{total}`` in them are filled with the published values.
        reference: reference data (``reference = "reference.toml"``, docs/reference.md): the
            municipalities are those of its reference year, and ``dimensions`` may name its
            hierarchy levels (``purchasing_region``) or a hierarchy (``region``: its leaf and
            every level). The levels of one hierarchy are protected as one table.

    Example:
        >>> RoundConfig(period=parse_period("2025"), parts=(parse_period("2025H1"),
        ...     parse_period("2025H2"))).parts[1].label
        '2025H2'
        >>> RoundConfig(dimensions=("postcode",))  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.ConfigError: round config: 1 problem(s): dimensions: unknown ...
    """

    title: str | None = None
    region: str | None = None
    period: Period | None = None
    parts: tuple[Period, ...] = ()
    reference_date: date | None = None
    dimensions: tuple[str, ...] | None = None
    cross: tuple[str, ...] | None = None
    anonymise_providers: bool = True
    publish_overlap: bool = True
    rules: DisclosureRules = field(default_factory=lambda: PRESETS["cbs"])
    corrections: Corrections | None = None
    corrections_rounding: int = 10
    capture_recapture: CaptureRecapture | None = None
    source: str = "defaults"
    files: tuple[tuple[str, str], ...] = ()
    language: str = "nl"
    status: Literal["provisional", "final"] = "provisional"
    source_text: str | None = None
    contact: str | None = None
    publication_date: date | None = None
    delivery_date: date | None = None
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    order: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    data_quality_rounding: int | None = None
    corrections_title: str | None = None
    adjustment_text: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    reference: Reference | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))
        if self.dimensions is not None:
            object.__setattr__(self, "dimensions", tuple(self.dimensions))
        if self.cross is not None:
            object.__setattr__(self, "cross", tuple(self.cross))
        problems = _semantic_problems(self)
        if problems:
            raise ConfigError("round config", problems)

    @property
    def time_label(self) -> str:
        """The counted time in words, e.g. ``period 2025`` or ``reference date 2025-12-31``."""
        if self.period is not None:
            return f"period {self.period.label}"
        if self.reference_date is not None:
            return f"reference date {self.reference_date.isoformat()}"
        return "all rows (no period or reference date)"

    def report_title(self) -> str:
        """The title shown: the configured one, or a default in the report's language."""
        return self.title or i18n.text(self.language, "default_title")

    def time_text(self, language: str) -> str:
        """The counted time in the report's words, e.g. ``peildatum 1 januari 2013``."""
        if self.period is not None:
            return i18n.text(
                language, "time_period", period=i18n.period_name(language, self.period.label)
            )
        if self.reference_date is not None:
            return i18n.text(
                language, "time_reference", date=i18n.day(language, self.reference_date)
            )
        return i18n.text(language, "time_all")

    def chosen_dimensions(self, available: Sequence[str]) -> tuple[str, ...]:
        """The dimensions to tabulate, given the columns the data hold (a hierarchy's name
        stands for its leaf dimension and every level)."""
        if self.dimensions is not None:
            return expand_dimensions(self.dimensions, self.reference)
        return tuple(name for name in DEFAULT_DIMENSIONS if name in available)

    def chosen_cross(self, dimensions: Sequence[str]) -> tuple[str, str] | None:
        """The cross table's (row, column) dimensions, or None for no cross table."""
        if self.corrections is not None:
            return (self.corrections.row_dimension, self.corrections.column_dimension)
        if self.cross is not None:
            return (self.cross[0], self.cross[1]) if self.cross else None
        if all(name in dimensions for name in DEFAULT_CROSS):
            return DEFAULT_CROSS
        return None


def _parts_problems(period: Period | None, parts: Sequence[Period]) -> list[str]:
    if not parts:
        return []
    if period is None:
        return ["parts: need a period to be parts of"]
    problems = []
    labels = [part.label for part in parts]
    if len(set(labels)) != len(labels) or period.label in labels:
        problems.append("parts: labels must differ from each other and from the period")
    ordered = sorted(parts, key=lambda part: part.start)
    covered = ordered[0].start == period.start and ordered[-1].end == period.end
    touching = all(
        following.start == previous.end + timedelta(days=1)
        for previous, following in pairwise(ordered)
    )
    if not (covered and touching):
        # The relation "period <= sum of parts" only holds when the parts cover it.
        problems.append(
            f"parts: must cover period {period.label} from its first to its last day, "
            "without gaps or overlaps"
        )
    return problems


def _age_problems(config: RoundConfig) -> list[str]:
    """An age group is the age reached in the year of the period's last day: the same for a
    year and its halves, but not for parts that end in another year than the period (a client
    in 12-17 for the period may be in 4-11 in its first part, in no relation to the margins
    the protection could model), so such parts are refused with ``age_group``."""
    named = (*(config.dimensions or ()), *(config.cross or ()))
    period = config.period
    if "age_group" not in named or period is None:
        return []
    other = [part.label for part in config.parts if part.end.year != period.end.year]
    if not other:
        return []
    return [
        f"parts: {', '.join(other)} must end in the year period {period.label} ends in with "
        "dimension age_group (an age is reached in the year of a period's last day, so a "
        "client's age group would differ between part and period)"
    ]


def _dimension_problems(config: RoundConfig) -> list[str]:
    problems = []
    given = config.dimensions or ()
    problems += [
        problem
        for name in given
        if (problem := dimension_problem(name, config.reference, overlap=config.publish_overlap))
        is not None
    ]
    if len(set(given)) != len(given):
        problems.append("dimensions: a dimension is named twice")
    dims = expand_dimensions(given, config.reference)
    if config.dimensions is not None:
        chosen = config.cross is None or len(config.cross) in (0, 2)
        cross_dims = (config.chosen_cross(dims) if chosen else None) or ()
        problems += hierarchy_problems(dims, cross_dims, config.reference)
    timed = config.period is not None or config.reference_date is not None
    if "age_group" in dims and not timed:
        problems.append("dimensions: age_group needs a period or reference_date")
    cross = config.cross
    if cross is not None and cross:
        if len(cross) != 2 or cross[0] == cross[1]:
            problems.append("cross: must name two different dimensions, or be [] for none")
        elif config.dimensions is not None and any(name not in dims for name in cross):
            problems.append("cross: both dimensions must be among dimensions")
    corrections = config.corrections
    if corrections is not None:
        wanted = (corrections.row_dimension, corrections.column_dimension)
        if cross is not None and tuple(cross) != wanted:
            problems.append(
                f"cross: the corrections model counts {' × '.join(wanted)}; "
                "leave cross out or give the same two dimensions"
            )
        if config.dimensions is not None and any(name not in dims for name in wanted):
            problems.append(
                f"dimensions: must include the corrections' dimensions {', '.join(wanted)}"
            )
    return problems


def _semantic_problems(config: RoundConfig) -> list[str]:
    problems = []
    if config.title is not None and not config.title.strip():
        problems.append("title: must not be empty")
    if config.period is not None and config.reference_date is not None:
        problems.append("period/reference_date: give a period or a reference date, not both")
    problems += _parts_problems(config.period, config.parts)
    problems += _age_problems(config)
    problems += _dimension_problems(config)
    rounding = config.corrections_rounding
    if isinstance(rounding, bool) or not isinstance(rounding, int) or rounding < 1:
        problems.append("corrections.rounding: must be a whole number >= 1")
    elif rounding < config.rules.rounding_base:
        problems.append(
            f"corrections.rounding: must be at least the disclosure rounding base "
            f"({config.rules.rounding_base})"
        )
    if config.language not in i18n.LANGUAGES:
        problems.append(f"language: must be one of {', '.join(i18n.LANGUAGES)}")
    if config.status not in ("provisional", "final"):
        problems.append("publication.status: must be voorlopig or definitief")
    quality = config.data_quality_rounding
    if quality is not None and (
        isinstance(quality, bool) or not isinstance(quality, int) or quality < 1
    ):
        problems.append("data_quality.rounding: must be a whole number >= 1")
    elif quality is not None and quality < config.rules.rounding_base:
        problems.append(
            f"data_quality.rounding: must be at least the disclosure rounding base "
            f"({config.rules.rounding_base}): a provider's rows bound its youths"
        )
    if config.corrections is not None:
        names = {adjustment.name for adjustment in config.corrections.adjustments}
        problems += [
            f"corrections.adjustment.{name}: no adjustment of that name in the corrections"
            for name in config.adjustment_text
            if name not in names
        ]
    elif config.adjustment_text or config.corrections_title:
        problems.append("corrections: title and adjustment texts need a corrections file")
    capture = config.capture_recapture
    if capture is not None and capture.rounding < config.rules.rounding_base:
        problems.append(
            f"capture_recapture.rounding: must be at least the disclosure rounding base "
            f"({config.rules.rounding_base})"
        )
    return problems


# --- reading a file ------------------------------------------------------------------------------


def _names(data: Mapping[str, Any], key: str, problems: list[str]) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{key}: must be a list of names")
        return None
    return tuple(value)


def _time(
    data: Mapping[str, Any], problems: list[str]
) -> tuple[Period | None, tuple[Period, ...], date | None]:
    period = reference = None
    parts: list[Period] = []
    if (text := text_value(data, "period", problems)) is not None:
        try:
            period = parse_period(text)
        except ConfigError as exc:
            problems += [f"period: {problem}" for problem in exc.problems]
    if (text := text_value(data, "reference_date", problems)) is not None:
        try:
            reference = parse_date(text, what="reference_date")
        except ConfigError as exc:
            problems += exc.problems
    for index, text in enumerate(_names(data, "parts", problems) or (), start=1):
        try:
            parts.append(parse_period(text))
        except ConfigError as exc:
            problems += [f"parts[{index}]: {problem}" for problem in exc.problems]
    return period, tuple(parts), reference


def _file_entry(what: str, path: Path) -> tuple[str, str]:
    return (what, f"{path.name} (sha256 {file_sha256(path)})")


def _rules(
    section: Mapping[str, Any], base_dir: Path, problems: list[str], files: list[tuple[str, str]]
) -> DisclosureRules:
    problems += [
        f"disclosure.{key}: not used in a round config (the report chooses each table's "
        "measures and dimensions)"
        for key in _REPORT_DECIDES
        if key in section
    ]
    inline = {key: value for key, value in section.items() if key not in _REPORT_DECIDES}
    if "rules" in inline:
        if len(inline) > 1:
            problems.append("disclosure.rules: give a rules file or inline rules, not both")
            return PRESETS["cbs"]
        if not isinstance(inline["rules"], str) or not inline["rules"].strip():
            problems.append("disclosure.rules: must be the path of a rules file")
            return PRESETS["cbs"]
        path = base_dir / inline["rules"]
        try:
            rules = load_rules(path)
        except FactlabError as exc:
            details = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
            problems += [f"disclosure.rules: {detail}" for detail in details]
            return PRESETS["cbs"]
        files.append(_file_entry("disclosure rules", path))
        return rules
    try:
        return rules_from_mapping({"version": 1, **inline}, source="disclosure")
    except ConfigError as exc:
        problems += [f"disclosure.{problem}" for problem in exc.problems]
        return PRESETS["cbs"]


def _corrections(
    section: Mapping[str, Any], base_dir: Path, problems: list[str], files: list[tuple[str, str]]
) -> tuple[Corrections | None, int]:
    problems += unknown_keys(section, _CORRECTION_KEYS, "corrections.")
    rounding = section.get("rounding", 10)
    if isinstance(rounding, bool) or not isinstance(rounding, int) or rounding < 1:
        problems.append("corrections.rounding: must be a whole number >= 1")
        rounding = 10
    name = section.get("file")
    if name is None:
        return None, rounding
    if not isinstance(name, str) or not name.strip():
        problems.append("corrections.file: must be the path of a corrections file")
        return None, rounding
    path = base_dir / name
    try:
        corrections = load_corrections(path)
    except FactlabError as exc:
        details = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
        problems += [f"corrections.file: {detail}" for detail in details]
        return None, rounding
    files.append(_file_entry("corrections", path))
    return corrections, rounding


def _capture_recapture(data: Mapping[str, Any], problems: list[str]) -> CaptureRecapture | None:
    if "capture_recapture" not in data:
        return None
    section = table_of(data, "capture_recapture", problems)
    problems += unknown_keys(section, _CAPTURE_KEYS, "capture_recapture.")
    default = CaptureRecapture()
    rounding = section.get("rounding", default.rounding)
    if isinstance(rounding, bool) or not isinstance(rounding, int) or rounding < 1:
        problems.append("capture_recapture.rounding: must be a whole number >= 1")
        rounding = default.rounding
    model = section.get("model", default.model)
    if not isinstance(model, str) or not model.strip():
        problems.append("capture_recapture.model: auto, independence or interactions (A:B,B:C)")
        model = default.model
    criterion = section.get("criterion", default.criterion)
    if criterion not in ("bic", "aic"):
        problems.append("capture_recapture.criterion: must be bic or aic")
        criterion = default.criterion
    raw = section.get("sources", {})
    sources: list[tuple[str, tuple[str, ...]]] = []
    if not isinstance(raw, Mapping):
        problems.append("capture_recapture.sources: a table of NAME = [provider codes]")
    else:
        for name, members in raw.items():
            if (
                not isinstance(members, list)
                or not members
                or not all(isinstance(member, str) for member in members)
            ):
                problems.append(
                    f"capture_recapture.sources.{name}: must be a non-empty list of provider codes"
                )
                continue
            sources.append((str(name), tuple(members)))
    return CaptureRecapture(
        sources=tuple(sources),
        model=model,
        criterion="aic" if criterion == "aic" else "bic",
        rounding=rounding,
    )


def parse_round_config(
    data: Mapping[str, Any], *, source: str = "round config", base_dir: str | Path = "."
) -> RoundConfig:
    """Validate a parsed round configuration and build a :class:`RoundConfig`.

    Files the configuration names (rules, corrections, reference) are read relative to
    ``base_dir``.

    Raises:
        ConfigError: listing every problem at once, each with the path of its field.

    Example:
        >>> parse_round_config({"version": 1, "period": "2025", "parts": ["2025H1"]})
        Traceback (most recent call last):
        factlab.errors.ConfigError: round config: 1 problem(s): parts: must cover period 2025 from its first to its last day, without gaps or overlaps
    """  # noqa: E501
    problems = unknown_keys(data, _TOP_KEYS, "")
    if "version" not in data:
        problems.append("version: missing (use version = 1)")
    elif data["version"] not in SUPPORTED_VERSIONS or isinstance(data["version"], bool):
        problems.append("version: unsupported version (supported: 1)")
    title = text_value(data, "title", problems)
    region = text_value(data, "region", problems)
    period, parts, reference = _time(data, problems)
    dimensions = _names(data, "dimensions", problems)
    cross = _names(data, "cross", problems)
    providers = table_of(data, "providers", problems)
    problems += unknown_keys(providers, _PROVIDER_KEYS, "providers.")
    anonymise = providers.get("anonymise", True)
    if not isinstance(anonymise, bool):
        problems.append("providers.anonymise: must be true or false")
        anonymise = True
    overlap = providers.get("overlap", True)
    if not isinstance(overlap, bool):
        problems.append("providers.overlap: must be true or false")
        overlap = True
    base = Path(base_dir)
    files: list[tuple[str, str]] = []
    rules = _rules(table_of(data, "disclosure", problems), base, problems, files)
    corrections_section = table_of(data, "corrections", problems)
    corrections, rounding = _corrections(corrections_section, base, problems, files)
    corrections_title, adjustment_text = read_corrections_text(corrections_section, problems)
    capture = _capture_recapture(data, problems)
    reference_data = read_reference(data, base, problems, files)
    declared = (*reference_data.dimensions(), *reference_data.hierarchies) if reference_data else ()
    presentation = read_presentation(data, problems, extra=declared)
    structural = read_structural_empties(data, problems)
    if structural:
        rules = replace(rules, structural_empty=(*rules.structural_empty, *structural))
    try:
        config = RoundConfig(
            title=title,
            region=region,
            period=period,
            parts=parts,
            reference_date=reference,
            dimensions=dimensions,
            cross=cross,
            anonymise_providers=anonymise,
            publish_overlap=overlap,
            rules=rules,
            corrections=corrections,
            corrections_rounding=rounding,
            capture_recapture=capture,
            source=source,
            files=tuple(files),
            corrections_title=corrections_title,
            adjustment_text=adjustment_text,
            reference=reference_data,
            **presentation,
        )
    except ConfigError as exc:
        problems += [problem for problem in exc.problems if problem not in problems]
    if problems:
        raise ConfigError(source, problems)
    return config


def load_round_config(path: str | Path) -> RoundConfig:
    """Read and validate a round configuration file (TOML).

    Raises:
        InputError: the file (or a file it names) is missing, unreadable, no regular file (a
            FIFO, a device) or larger than 16 MiB.
        ConfigError: the file is not TOML or breaks the schema (all problems at once).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "round.toml"
        >>> _ = path.write_text('version = 1\\ntitle = "Drenthe 2025"\\nperiod = "2025"\\n')
        >>> load_round_config(path).time_label
        'period 2025'
    """
    path = Path(path)
    # a regular file only, and a small one: a FIFO would wait forever, /dev/zero fill memory
    raw = read_regular(path, what="round config")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: cannot read the round config (not UTF-8 text)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    config = parse_round_config(data, source=str(path), base_dir=path.parent)
    return replace(config, files=(_file_entry("round config", path), *config.files))


def round_2014() -> RoundConfig:
    """The shipped report configuration of the February 2014 round (``factlab/data``).

    Dutch, reference date 1 January 2013, the 2014 disclosure rules (JB/JR only under
    Begroting: the other two JB/JR cells are empty by definition) and the 2014 corrections,
    with notes that take every number from the published values.

    Example:
        >>> config = round_2014()
        >>> config.language, config.reference_date.isoformat(), config.rules.name
        ('nl', '2013-01-01', 'cbs-drenthe-2014')
    """
    with resources.as_file(resources.files("factlab.data").joinpath("round_2014.toml")) as path:
        return load_round_config(path)


#: Round configurations shipped with factlab, by name (``factlab report --builtin NAME``).
BUILTIN_ROUNDS: Final = {"2014": round_2014}
