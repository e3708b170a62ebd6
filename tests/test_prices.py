"""The price table: packaged data, user overrides, exact and date-stamped matches, bad entries."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from otel_agentperf.recording import prices
from otel_agentperf.runtime import settings


def test_packaged_prices_match_dated_snapshots_but_never_guess() -> None:
    table = prices.table()
    for model, snapshot in (
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
    ):
        price = table.price(model)
        assert price is not None and price.input > 0 and price.output > 0, model
        assert table.price(snapshot) == price
    assert table.price("gpt-4o-mini-turbo") is None  # a prefix is not a match
    assert table.price("my-finetune") is None


def test_cost_counts_cached_and_written_input_tokens_at_their_prices() -> None:
    price = prices.Price(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)
    assert price.cost(1_000_000, 0) == pytest.approx(3.0)
    assert price.cost(100, 10, cache_read=60, cache_write=20) == pytest.approx(
        (20 * 3 + 60 * 0.3 + 20 * 3.75 + 10 * 15) / 1e6
    )
    assert prices.Price(input=1.0, output=2.0).cost(10, 0, cache_read=10) == pytest.approx(10 / 1e6)  # no cache price


def test_user_file_and_settings_table_override_and_bad_entries_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings_file = tmp_path / "agentperf.toml"
    settings_file.write_text(
        '[prices."gpt-4o"]\ninput = 1.0\noutput = 2.0\n[prices."broken"]\ninput = "free"\noutput = 1\n'
    )
    user_file = tmp_path / "prices.toml"
    user_file.write_text('[models."house-model"]\ninput = 0.5\noutput = 0.5\n[models."no-output"]\ninput = 1.0\n')
    monkeypatch.setenv("OTEL_AGENTPERF_CONFIG", str(settings_file))
    monkeypatch.setenv("OTEL_AGENTPERF_PRICES", str(user_file))
    settings.reload()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        table = prices.table()
    assert table.price("gpt-4o") == prices.Price(input=1.0, output=2.0)
    assert table.price("house-model") == prices.Price(input=0.5, output=0.5)
    assert table.price("gpt-4o-mini") is not None  # the packaged rest is kept
    assert table.price("broken") is None and table.price("no-output") is None
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "'broken'" in messages and "'no-output'" in messages


def test_an_unreadable_price_file_is_one_warning_and_the_packaged_table_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_AGENTPERF_PRICES", str(tmp_path / "missing.toml"))
    settings.reload()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        table = prices.table()
    assert table.price("gpt-4o") is not None
    assert any("missing.toml" in record.getMessage() for record in caplog.records)
