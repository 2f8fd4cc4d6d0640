"""The configuration of a monitor report (``[monitor]``): which years, which figures, how shown.

A monitor report reads the same TOML as a round's report (``docs/reports.md``): title, region,
language, ``[publication]``, ``[labels]``, ``[order]`` and, above all, the round's disclosure
rules (``[disclosure]``), plus one section of its own::

    version = 1
    region = "Drenthe"

    [monitor]
    from = 2021                 # first year of the programme
    to = 2024                   # last year
    every = "year"              # or "half": half-years
    by = ["financing", "care_form"]   # series by each of these dimensions

    [monitor.transitions]       # one transition matrix
    by = "financing"
    from = "2023"               # default: the programme's last two periods
    to = "2024"
    rule = "combined"           # or "latest"

    [monitor.durations]
    by = "care_form"
    until = "2024-12-31"        # default: the last day every provider's deliveries cover
    min_trajectories = 10       # quartiles from fewer trajectories are not shown

    [monitor.costs]
    show = true                 # default: when the data have a cost column
    by = ["provider", "municipality"]   # cost per client and its change per value of these
    [monitor.reentry]
    months = 12                 # re-entry within this many months after care ended
    show = true

The section may sit in the round configuration or in a file of its own (``version`` and
``[monitor]`` only). Everything is validated before any row is read, and every problem is
reported at once, each with the path of its field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

from factlab._export_checks import read_regular
from factlab.analysis.overlap import check_dimension
from factlab.errors import ConfigError, InputError
from factlab.io import file_sha256
from factlab.periods import Period, parse_date, parse_period
from factlab.report.config import RoundConfig, parse_round_config
from factlab.report.presentation import table_of, unknown_keys

__all__ = [
    "DEFAULT_COST_BY",
    "DEFAULT_SERIES_BY",
    "MonitorConfig",
    "load_monitor_config",
    "parse_monitor_config",
]

_MONITOR_KEYS: Final = (
    "from",
    "to",
    "every",
    "by",
    "transitions",
    "durations",
    "costs",
    "reentry",
)
_TRANSITION_KEYS: Final = ("by", "from", "to", "rule")
_DURATION_KEYS: Final = ("by", "until", "min_trajectories")
_COST_KEYS: Final = ("show", "by")
_REENTRY_KEYS: Final = ("months", "show")
#: Dimensions of the cost tables per value when the configuration names none (those present).
DEFAULT_COST_BY: Final = ("provider", "municipality")
#: Series dimensions when the configuration names none (those the data hold).
DEFAULT_SERIES_BY: Final = ("financing", "care_form")


@dataclass(frozen=True)
class MonitorConfig:
    """Settings of a monitor report.

    Attributes:
        round: the round settings the report shares with a round's report (rules, language,
            title, region, publication, labels, order).
        first, last: the programme's first and last year.
        every: ``year`` or ``half``.
        by: dimensions of the series (None: financing and care form, those the data hold).
        transitions_by: the dimension of the transition matrix.
        transitions_from, transitions_to: its periods (None: the last two periods).
        rule: ``combined`` or ``latest`` (:func:`factlab.monitor.transitions.transitions`).
        durations_by: the dimension of the durations table.
        until: the last day the data tell about (None: the last day every provider's
            deliveries cover, or the delivery date if earlier).
        min_trajectories: quartiles and the share still open are shown only for a cell of at
            least this many trajectories (None: the rules' threshold, ``secret_max + 1``, and
            at least 10).
        costs: show cost per client (None: when the data have a cost column).
        costs_by: dimensions of the cost per client and its change per value (None: provider
            and municipality, those the data hold; empty: none).
        reentry_months: the window of re-entry after care ended, in months.
        reentry: show the re-entry table.
    """

    round: RoundConfig = field(default_factory=RoundConfig)
    first: int = 2021
    last: int = 2024
    every: Literal["year", "half"] = "year"
    by: tuple[str, ...] | None = None
    transitions_by: str = "financing"
    transitions_from: str | None = None
    transitions_to: str | None = None
    rule: Literal["combined", "latest"] = "combined"
    durations_by: str = "care_form"
    until: date | None = None
    min_trajectories: int | None = None
    costs: bool | None = None
    costs_by: tuple[str, ...] | None = None
    reentry_months: int = 12
    reentry: bool = True

    @property
    def periods(self) -> tuple[Period, ...]:
        """The programme's periods, in order.

        Example:
            >>> [p.label for p in MonitorConfig(first=2023, last=2024, every="half").periods]
            ['2023H1', '2023H2', '2024H1', '2024H2']
        """
        suffixes = ("",) if self.every == "year" else ("H1", "H2")
        return tuple(
            parse_period(f"{year}{suffix}")
            for year in range(self.first, self.last + 1)
            for suffix in suffixes
        )

    @property
    def transition_periods(self) -> tuple[Period, Period]:
        """The two periods of the transition matrix."""
        periods = {period.label: period for period in self.periods}
        labels = [p.label for p in self.periods]
        first = self.transitions_from or labels[-2]
        second = self.transitions_to or labels[-1]
        return periods[first], periods[second]

    @property
    def threshold(self) -> int:
        """The least number of trajectories whose quartiles are shown."""
        if self.min_trajectories is not None:
            return self.min_trajectories
        return max(10, self.round.rules.secret_max + 1)


def _year(value: Any, path: str, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        problems.append(f"{path}: must be a year, e.g. 2021")
        return None
    text = str(value)
    if len(text) != 4 or not text.isascii() or not text.isdigit():
        problems.append(f"{path}: must be a year of four digits, e.g. 2021")
        return None
    return int(text)


def _dimension(value: Any, path: str, problems: list[str]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{path}: must be the name of a dimension")
        return None
    try:
        check_dimension(value, option=path)
    except ConfigError as exc:
        problems += exc.problems
        return None
    return value


def _monitor(section: Mapping[str, Any], rules_max: int, problems: list[str]) -> dict[str, Any]:
    """The settings of ``[monitor]`` (problems collected, defaults where a value is wrong)."""
    found: dict[str, Any] = {}
    problems += unknown_keys(section, _MONITOR_KEYS, "monitor.")
    for key in ("from", "to"):
        if key not in section:
            problems.append(f"monitor.{key}: missing (the programme's {key} year, e.g. 2021)")
    first = _year(section.get("from", 2021), "monitor.from", problems)
    last = _year(section.get("to", 2024), "monitor.to", problems)
    if first is not None and last is not None:
        if last < first:
            problems.append("monitor.to: before monitor.from")
        elif last - first > 50:
            problems.append("monitor.to: a programme of at most 50 years")
        else:
            found.update(first=first, last=last)
    every = section.get("every", "year")
    if every not in ("year", "half"):
        problems.append("monitor.every: must be 'year' or 'half'")
    else:
        found["every"] = every
    if "by" in section:
        by = section["by"]
        if not isinstance(by, list) or not by:
            problems.append("monitor.by: must be a non-empty list of dimensions")
        else:
            names = [_dimension(name, f"monitor.by[{i}]", problems) for i, name in enumerate(by)]
            if len(set(by)) != len(by):
                problems.append("monitor.by: names a dimension twice")
            found["by"] = tuple(name for name in names if name)
    moves = table_of(section, "transitions", problems)
    problems += unknown_keys(moves, _TRANSITION_KEYS, "monitor.transitions.")
    if "by" in moves and (name := _dimension(moves["by"], "monitor.transitions.by", problems)):
        found["transitions_by"] = name
    for key in ("from", "to"):
        if key in moves:
            value = moves[key]
            if isinstance(value, bool) or not isinstance(value, str | int):
                problems.append(f'monitor.transitions.{key}: must be a period, e.g. "2024"')
            else:
                found[f"transitions_{key}"] = str(value)
    rule = moves.get("rule", "combined")
    if rule not in ("combined", "latest"):
        problems.append("monitor.transitions.rule: must be 'combined' or 'latest'")
    else:
        found["rule"] = rule
    lengths = table_of(section, "durations", problems)
    problems += unknown_keys(lengths, _DURATION_KEYS, "monitor.durations.")
    if "by" in lengths and (name := _dimension(lengths["by"], "monitor.durations.by", problems)):
        found["durations_by"] = name
    if "until" in lengths:
        until = lengths["until"]
        try:
            found["until"] = until if isinstance(until, date) else parse_date(str(until))
        except ConfigError:
            problems.append("monitor.durations.until: must be a date, e.g. 2024-12-31")
    if "min_trajectories" in lengths:
        least = lengths["min_trajectories"]
        if isinstance(least, bool) or not isinstance(least, int) or least < rules_max + 1:
            problems.append(
                "monitor.durations.min_trajectories: must be a whole number above the rules' "
                f"secret_max ({rules_max})"
            )
        else:
            found["min_trajectories"] = least
    costs = table_of(section, "costs", problems)
    problems += unknown_keys(costs, _COST_KEYS, "monitor.costs.")
    if "show" in costs:
        if not isinstance(costs["show"], bool):
            problems.append("monitor.costs.show: must be true or false")
        else:
            found["costs"] = costs["show"]
    if "by" in costs:
        names = costs["by"]
        if not isinstance(names, list):
            problems.append("monitor.costs.by: must be a list of dimensions (may be empty)")
        else:
            chosen = [
                _dimension(name, f"monitor.costs.by[{i}]", problems) for i, name in enumerate(names)
            ]
            if len(set(map(str, names))) != len(names):
                problems.append("monitor.costs.by: names a dimension twice")
            found["costs_by"] = tuple(name for name in chosen if name)
    back = table_of(section, "reentry", problems)
    problems += unknown_keys(back, _REENTRY_KEYS, "monitor.reentry.")
    if "months" in back:
        months = back["months"]
        if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
            problems.append("monitor.reentry.months: must be a whole number from 1 to 120")
        else:
            found["reentry_months"] = months
    if "show" in back:
        if not isinstance(back["show"], bool):
            problems.append("monitor.reentry.show: must be true or false")
        else:
            found["reentry"] = back["show"]
    return found


def _period_problems(config: MonitorConfig) -> list[str]:
    labels = [period.label for period in config.periods]
    problems = [
        f"monitor.transitions.{key}: {value} is not a period of the programme "
        f"({labels[0]}..{labels[-1]}, every {config.every})"
        for key, value in (("from", config.transitions_from), ("to", config.transitions_to))
        if value is not None and value not in labels
    ]
    if problems:
        return problems
    if len(labels) < 2:
        return ["monitor: a transition matrix needs at least two periods"]
    first, second = config.transition_periods
    if second.start <= first.end:
        return ["monitor.transitions.to: must come after monitor.transitions.from"]
    if config.until is not None and config.until < config.periods[-1].start:
        return ["monitor.durations.until: before the start of the last period"]
    return []


def parse_monitor_config(
    data: Mapping[str, Any], *, source: str = "monitor config", base_dir: str | Path = "."
) -> MonitorConfig:
    """Validate a parsed monitor configuration and build a :class:`MonitorConfig`.

    Raises:
        ConfigError: listing every problem at once, of ``[monitor]`` and of the round keys.

    Example:
        >>> config = parse_monitor_config({"version": 1, "monitor": {"from": 2022, "to": 2024}})
        >>> [p.label for p in config.transition_periods]
        ['2023', '2024']
        >>> parse_monitor_config({"version": 1, "monitor": {"from": 2024, "to": 2022,
        ...     "transitions": {"rule": "first"}}})  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        factlab.errors.ConfigError: monitor config: 2 problem(s): monitor.to: before monitor.from;
        monitor.transitions.rule: must be 'combined' or 'latest'
    """
    problems: list[str] = []
    section = table_of(data, "monitor", problems)
    if "monitor" not in data:
        problems.append("monitor: missing (a [monitor] section with from and to)")
    rest = {key: value for key, value in data.items() if key != "monitor"}
    round_config = RoundConfig()
    try:
        round_config = parse_round_config(rest, source=source, base_dir=base_dir)
    except ConfigError as exc:
        problems += exc.problems
    found = _monitor(section, round_config.rules.secret_max, problems)
    config = MonitorConfig(round=round_config, **found)
    if not problems:
        problems += _period_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def load_monitor_config(path: str | Path) -> MonitorConfig:
    """Read and validate a monitor configuration file (TOML; see the module).

    Raises:
        InputError: the file is missing, unreadable or not a regular file.
        ConfigError: the file is not TOML or breaks the schema (all problems at once).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "monitor.toml"
        >>> _ = path.write_text('version = 1\\n[monitor]\\nfrom = 2021\\nto = 2024\\n')
        >>> load_monitor_config(path).last
        2024
    """
    path = Path(path)
    raw = read_regular(path, what="monitor config")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: cannot read the monitor config (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    config = parse_monitor_config(data, source=str(path), base_dir=path.parent)
    entry = ("monitor config", f"{path.name} (sha256 {file_sha256(path)})")
    return replace(config, round=replace(config.round, files=(entry, *config.round.files)))
