"""The capture-recapture estimate in a report: configured, rounded outwards, in every format."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from factlab import schema
from factlab.errors import ConfigError, DataError
from factlab.estimation.histories import histories_from_linked
from factlab.estimation.unseen import estimate_unseen
from factlab.report.build import build_report
from factlab.report.config import CaptureRecapture, RoundConfig, parse_round_config
from factlab.report.model import Report, UnseenView
from factlab.report.render import render_html, render_markdown
from factlab.report.views import unseen_view


def pseudonym(client: int) -> str:
    return hashlib.sha256(f"synthetic-client-{client}".encode()).hexdigest()[:32]


def linked(seed: int = 7, size: int = 4000) -> pl.DataFrame:
    """Rows of a closed population of ``size`` youths seen by three providers independently."""
    rng = np.random.default_rng(seed)
    clients, providers = [], []
    for provider, chance in (("P1", 0.35), ("P2", 0.3), ("P3", 0.25)):
        seen = np.flatnonzero(rng.random(size) < chance)
        clients += seen.tolist()
        providers += [provider] * len(seen)
    return pl.DataFrame(
        {
            "pseudonym": [pseudonym(c) for c in clients],
            "bsn_status": pl.Series(["valid"] * len(clients), dtype=schema.STATUS_DTYPE),
            "provider": providers,
            "care_form": ["ambulant"] * len(clients),
        }
    )


def test_the_configuration_section_is_read_and_checked() -> None:
    config = parse_round_config(
        {
            "version": 1,
            "capture_recapture": {
                "model": "independence",
                "rounding": 50,
                "sources": {"A": ["P1"], "B": ["P2", "P3"]},
            },
        }
    )
    assert config.capture_recapture == CaptureRecapture(
        sources=(("A", ("P1",)), ("B", ("P2", "P3"))), model="independence", rounding=50
    )
    with pytest.raises(ConfigError) as caught:
        parse_round_config(
            {
                "version": 1,
                "capture_recapture": {
                    "criterion": "cp",
                    "rounding": 0,
                    "sources": {"A": "P1"},
                    "extra": 1,
                },
            }
        )
    problems = " ".join(caught.value.problems)
    for expected in ("criterion", "rounding", "sources.A", "extra"):
        assert expected in problems
    with pytest.raises(ConfigError, match="at least the disclosure rounding base"):
        RoundConfig(language="en", capture_recapture=CaptureRecapture(rounding=1))


def test_the_published_view_is_rounded_outwards() -> None:
    rows = linked()
    (histories,) = histories_from_linked(rows)
    result = estimate_unseen(histories, model="independence")
    config = RoundConfig(language="en")
    view = unseen_view(result, rounding=100, rules=config.rules, internal=False)
    assert view is not None
    assert view.estimate % 100 == 0
    assert view.lower % 100 == 0
    assert view.upper % 100 == 0
    assert view.lower <= result.lower
    assert view.upper >= result.upper
    assert abs(view.estimate - result.estimate) <= 50
    assert view.observed % config.rules.rounding_base == 0
    assert view.lower <= 4000 <= view.upper  # the population drawn
    exact = unseen_view(result, rounding=100, rules=config.rules, internal=True)
    assert exact is not None
    assert exact.observed == result.observed
    assert exact.internal
    with pytest.raises(TypeError):
        UnseenView(1, 2, 1, 3, "independence", 2, 1, False, "m", ())


def test_a_public_report_shows_only_rounded_figures_in_every_format() -> None:
    rows = linked()
    config = RoundConfig(
        language="en",
        dimensions=("care_form",),
        capture_recapture=CaptureRecapture(model="independence"),
    )
    report = build_report(rows, config)
    assert report.unseen is not None
    observed = rows["pseudonym"].n_unique()
    markdown = render_markdown(report)
    html = render_html(report)
    for text in (markdown, html):
        assert "Capture–recapture: youths no provider saw" in text
        assert f"{observed:,}" not in text  # the exact number seen is never published
        assert "95 % profile-likelihood interval" in text
        assert "closed population" in text
    assert f"{report.unseen.lower:,}–{report.unseen.upper:,}" in markdown
    assert 'id="capture-recapture"' in html
    internal = build_report(rows, config, internal=True)
    assert internal.unseen is not None
    assert internal.unseen.observed == observed
    with pytest.raises(DataError, match="internal report only"):
        Report(**{**report.__dict__, "unseen": internal.unseen})


def test_provider_lists_are_named_as_the_report_labels_them() -> None:
    rows = linked()
    # P1 and P2 share more youths than chance: the search keeps their interaction.
    extra = rows.filter(pl.col("provider") == "P1").sample(fraction=0.6, seed=3)
    rows = pl.concat([rows, extra.with_columns(pl.lit("P2").alias("provider"))]).unique()
    report = build_report(rows, RoundConfig(language="en", capture_recapture=CaptureRecapture()))
    assert report.unseen is not None
    assert "P1" not in report.unseen.model
    assert "P2" not in report.unseen.model
    assert ":" in report.unseen.model  # an interaction, between anonymised labels


def test_a_report_says_why_there_is_no_estimate() -> None:
    rows = linked().filter(pl.col("provider") != "P2")
    rows = rows.filter(~pl.col("pseudonym").is_duplicated())  # P1 and P3 now share no one
    report = build_report(rows, RoundConfig(language="en", capture_recapture=CaptureRecapture()))
    assert report.unseen is None
    assert any(note.startswith("No capture-recapture estimate:") for note in report.notes)
