"""The assistant's grammar: the intent test set (Czech and English), numbers and text folding."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.domain.chat.intents import INTENTS, LIMIT_CEILING, parse_message
from app.domain.chat.language import find_numbers, fold, parse_number, stem, word_matches

CASES_FILE = Path(__file__).with_name("intent_cases.json")
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def test_the_set_covers_every_intent_in_both_languages() -> None:
    assert len(CASES) >= 60
    assert {case["intent"] for case in CASES} == set(INTENTS)
    languages = {parse_message(case["message"]).language for case in CASES}
    assert languages == {"cs", "en"}


@pytest.mark.parametrize("case", CASES, ids=[case["message"] for case in CASES])
def test_intent_and_parameters(case: dict[str, Any]) -> None:
    intent = parse_message(case["message"])
    assert (intent.name, intent.params()) == (case["intent"], case["params"])


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("12,5", "cs", "12.5"),
        ("1 250,00", "cs", "1250.00"),
        ("1\u00a0250,00", "cs", "1250.00"),
        ("1.250,00", "cs", "1250.00"),
        ("1,250.00", "en", "1250.00"),
        ("250,000", "en", "250000"),
        ("12,500", "cs", "12.500"),
        ("1.250.000", "cs", "1250000"),
        ("-3", "cs", "-3"),
    ],
)
def test_numbers_are_read_as_people_write_them(text: str, language: str, expected: str) -> None:
    assert parse_number(text, language) == Decimal(expected)


def test_numbers_in_text_skip_codes_units_and_classes() -> None:
    found = [number for number, _, _ in find_numbers("beton c30/37 m3 na 4 900 kc")]
    assert found == [Decimal(4900)]
    assert parse_message("Změň množství 273321311 na 1,23456789").value == Decimal("1.23456789")


def test_folding_and_stems_ignore_case_diacritics_and_endings() -> None:
    assert fold("  Změň MNOŽSTVÍ  ") == "zmen mnozstvi"
    assert stem("vyztuze") == "vyztuz" and stem("betonu") == "beton"
    assert word_matches("beton", "zelezobetonu") and word_matches("beton", "betonove")
    assert not word_matches("beton", "betonarske")  # reinforcing steel is not concrete
    # aerated concrete (Ytong) is masonry: "Kolik stojí beton?" counted RD Valcha's Ytong ceilings
    assert not word_matches("beton", "porobetonovych") and not word_matches("beton", "porobeton")


def test_nothing_is_guessed() -> None:
    for message in ("", "   ", "???!!!", "x" * 5000, "SELECT * FROM positions; --", "\u0000\u0001"):
        intent = parse_message(message)
        assert intent.name in INTENTS
    assert parse_message("Jaké je počasí v Praze?").name == "unknown"
    assert parse_message("Změň množství 411321414").missing == ("value",)
    assert parse_message("Smaž položku").missing == ("position",)


@pytest.mark.parametrize("written", ["1e309", "3E5", "2e-3", "1/2"])
def test_a_number_it_cannot_read_is_missing_not_its_first_digits(written: str) -> None:
    # "1e309" once set a quantity to 1: a command must never act on a number it read only in part.
    command = parse_message(f"Změň množství 272325 na {written}")
    assert command.name == "set_quantity" and command.missing == ("value",)
    assert parse_message(f"nastav cenu 272325 na {written} Kč").missing == ("value",)
    assert "min_total" not in parse_message(f"Položky dražší než {written} Kč").params()
    assert parse_message("Změň množství 272325 na 35m3").value == Decimal(35)


def test_a_version_number_too_long_to_be_one_is_said_not_dropped() -> None:
    export = parse_message("exportuj do csv verzi 99999999999999")
    assert export.name == "export" and export.version is None
    assert export.unreadable == ("verzi 99999999999999",)
    assert parse_message("Co se změnilo od verze 123456789012?").unreadable == ("od verze 123456789012",)
    assert parse_message("exportuj do csv verzi 1234567").version == 1234567


def test_a_count_too_large_is_bounded_not_read_as_a_code() -> None:
    intent = parse_message("Top 99999999999999999999 nejdražších položek")
    assert intent.name == "find" and intent.code is None and intent.order == "most_expensive"
    assert intent.limit == LIMIT_CEILING
