"""The assistant's answers over plain rows: every figure is a sum of the rows it names."""

from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal
from typing import Any

from app.domain.chat.answers import VersionInfo, answer_find, answer_ratio, answer_total
from app.domain.chat.audit_answers import VerdictRow, answer_explain, answer_findings, ask_which
from app.domain.chat.budget_view import PositionRow, object_key, select
from app.domain.chat.change_answers import answer_changes, diff_rows, since_moment
from app.domain.chat.intents import parse_message

VERSION = VersionInfo(number=7, id=uuid.uuid4(), total_cost=Decimal("0"), total_positions=0)


def row(description: str, **values: Any) -> PositionRow:
    quantity = values.get("quantity")
    unit_price = values.get("unit_price")
    defaults: dict[str, Any] = {
        "id": uuid.uuid4(),
        "lineage_id": uuid.uuid4(),
        "position_number": None,
        "code": None,
        "description": description,
        "category": None,
        "object_code": None,
        "unit": None,
        "quantity": None,
        "unit_price": None,
        "total_price": quantity * unit_price if quantity is not None and unit_price is not None else None,
        "status": None,
    }
    return PositionRow(**{**defaults, **values})


def budget() -> list[PositionRow]:
    d = Decimal
    return [
        row("Základy z betonu C 30/37", code="273321311", object_code="SO 01", category="2 - Zakládání",
            unit="m3", quantity=d("20"), unit_price=d("3000"), status="GREEN"),
        row("Výztuž základů z betonářské oceli B500B", code="273361821", object_code="SO 01",
            category="2 - Zakládání", unit="t", quantity=d("2.4"), unit_price=d("40000"), status="AMBER"),
        row("Bednění základů", code="273351121", object_code="SO 01", category="2 - Zakládání",
            unit="m2", quantity=d("40"), unit_price=d("500"), status="GREEN"),
        row("Stěny ze železobetonu C30/37", code="311321411", object_code="SO 02", category="3 - Svislé konstrukce",
            unit="m3", quantity=d("10"), unit_price=d("5000"), status="RED"),
        row("Hloubení jam", code="131201101", object_code="SO 02", category="1 - Zemní práce",
            unit="m3", quantity=d("100"), unit_price=None, status="AMBER"),
        row("Základy z betonu C 30/37", code="273321311", object_code="SO 02", category="2 - Zakládání",
            unit="m3", quantity=d("5"), unit_price=d("3100"), status="GREEN"),
    ]  # fmt: skip


def test_total_of_a_material_adds_the_rows_it_names() -> None:
    reply = answer_total(VERSION, budget(), parse_message("Kolik stojí beton?"))
    # concrete: 60,000 + 50,000 (železobeton) + 15,500; "betonářské oceli" is reinforcement, not concrete
    assert reply.data == {"count": 3, "total_cost": "125500"}
    assert "125\u00a0500,00\u00a0Kč" in reply.text
    assert reply.source == "positions of version 7: 3 rows matching 'beton'"
    assert reply.context["version"] == 7 and reply.context["filters"] == {"terms": ["beton"], "words": "beton"}
    assert [p.code for p in reply.positions] == ["273321311", "311321411", "273321311"]


def test_total_of_an_object_and_of_a_section_named_by_words() -> None:
    rows = budget()
    reply = answer_total(VERSION, rows, parse_message("What does SO 1 cost?"))
    assert reply.data["total_cost"] == "176000.0" and reply.data["count"] == 3
    assert reply.text.startswith("Positions in SO 1 (version 7): CZK 176,000.00 (3 positions).")
    section = answer_total(VERSION, rows, parse_message("Kolik stojí zemní práce?"))
    assert section.context["filters"] == {"category": "1 - Zemní práce"}
    assert "Bez ceny celkem: 1 položka" in section.text


def test_unknown_object_lists_the_objects_there_are() -> None:
    reply = answer_total(VERSION, budget(), parse_message("Kolik stojí SO 9?"))
    assert reply.data == {"count": 0}
    assert "SO 01, SO 02" in reply.text


def test_find_unpriced_and_quantities_by_unit() -> None:
    rows = budget()
    unpriced = answer_find(VERSION, rows, parse_message("Najdi položky bez ceny"))
    assert unpriced.data["count"] == 1 and unpriced.positions[0].code == "131201101"
    concrete = answer_total(VERSION, rows, parse_message("Kolik m3 betonu je v SO 1?"))
    assert concrete.data["quantity"] == "20" and concrete.data["unit"] == "m3"


def test_reinforcement_per_cubic_metre_of_concrete() -> None:
    reply = answer_ratio(VERSION, budget(), parse_message("kolik výztuže na m3 betonu v SO 1"))
    assert reply.data["ratio"] == "120.000"  # 2.4 t = 2,400 kg over 20 m3
    assert reply.data["ratio_unit"] == "kg/m3"
    assert "120 kg/m3" in reply.text


def test_findings_give_the_audits_reason_and_suggestion() -> None:
    rows = budget()
    red = rows[3]
    verdict = VerdictRow(
        lineage_id=red.lineage_id,
        position_id=red.id,
        expert_role="orchestrator",
        status="RED",
        confidence=Decimal("90"),
        reasoning="Unit price 5000 is far from the reference 3200.",
        issues=[{"type": "price", "severity": "RED", "description": "off by 56 %", "suggestion": "Check the price"}],
        audited_version=6,
    )
    reply = answer_findings(VERSION, rows, parse_message("Které položky jsou červené?"), {red.lineage_id: verdict})
    assert reply.data["count"] == 1
    assert "Unit price 5000 is far" in reply.text and "Check the price" in reply.text
    assert reply.context["audited_versions"] == [6]


def test_an_explanation_says_each_reason_once_with_the_readers_numbers() -> None:
    # It read "jistota 60.00 %" and gave a single-issue expert's reason twice (its reasoning, then its issue).
    amber = budget()[3]
    reason = "Reinforcement in object SO 01 is 20.1 kg per m3 of reinforced concrete."
    found = {"type": "structural.reinforcement_ratio", "severity": "AMBER", "description": reason}
    verdicts = [
        VerdictRow(amber.lineage_id, amber.id, "orchestrator", "AMBER", Decimal("60.00"), f"structural: {reason}"),
        VerdictRow(
            amber.lineage_id,
            amber.id,
            "structural",
            "AMBER",
            Decimal("62.50"),
            reason,
            issues=[{**found, "suggestion": "Check the reinforcement mass."}],
        ),
    ]
    for message, confidence in (
        ("Proč je 311321411 oranžová?", "jistota 60 %"),
        ("Why is 311321411 amber?", "confidence 60 %"),
    ):
        intent = parse_message(message)
        reply = answer_explain(VERSION, intent, amber, verdicts, {})
        assert confidence in reply.text, reply.text
        assert reply.text.count(reason) == 2, reply.text  # the orchestrator's summary and the expert's line
        assert f"{reason} → Check the reinforcement mass." in reply.text


def test_two_positions_with_one_code_are_asked_about() -> None:
    rows = budget()
    intent = parse_message("Změň množství 273321311 na 35")
    selection = select(rows, intent)
    assert len(selection.rows) == 2
    reply = ask_which(VERSION, intent, selection.rows, selection.filters, action=intent.name)
    assert reply.actions[0]["result"]["status"] == "ambiguous"
    assert set(reply.actions[0]["result"]["candidates"]) == {str(r.lineage_id) for r in selection.rows}
    assert "SO 01" in reply.text and "SO 02" in reply.text
    assert len(select(rows, parse_message("Změň množství 273321311 v SO 2 na 35")).rows) == 1


def test_diff_by_lineage_and_the_delta() -> None:
    old = budget()
    new = [*old[1:4], row("Lešení", unit="m2", quantity=Decimal(10), unit_price=Decimal(100))]
    changed = PositionRow(**{**{f: getattr(old[1], f) for f in old[1].__dataclass_fields__}, "quantity": Decimal(3)})
    new[0] = changed
    diff = diff_rows(old, new)
    assert [r.description for r in diff.added] == ["Lešení"]
    assert {r.code for r in diff.removed} == {"273321311", "131201101"}
    assert diff.modified[0][2]["quantity"] == {"before": "2.4", "after": "3"}
    reply = answer_changes(
        parse_message("Co se změnilo ve verzi 7?"),
        from_version=6,
        to_version=7,
        old=old,
        new=new,
        heading_cs="Verze 7",
        heading_en="Version 7",
    )
    assert reply.data["added"] == 1 and reply.data["removed"] == 3 and reply.data["modified"] == 1


def test_since_reads_relative_and_calendar_dates() -> None:
    now = datetime.datetime(2026, 11, 29, 16, 0, tzinfo=datetime.UTC)
    assert since_moment("yesterday", now) == datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC)
    assert since_moment("7d", now) == now - datetime.timedelta(days=7)
    assert since_moment("*-12-24", now) == datetime.datetime(2025, 12, 24, tzinfo=datetime.UTC)
    assert since_moment("2026-02-30", now) is None


def test_object_codes_ignore_spaces_and_leading_zeros() -> None:
    assert object_key("SO 01") == object_key("so1") == "so1"
    assert object_key("SO 201") != object_key("SO 20")
    assert object_key("SO 01.1") == "so1.1"


def test_the_rows_query_selects_the_row_fields_in_order() -> None:
    from sqlalchemy import select as sql_select

    from app.domain.chat.assistant import ROW_COLUMNS, VERSION_ROWS_SQL

    assert list(sql_select(*ROW_COLUMNS).selected_columns.keys()) == list(PositionRow.__dataclass_fields__)
    listed = VERSION_ROWS_SQL.split("SELECT ", 1)[1].split(" FROM ", 1)[0]
    names = [re.sub(r"metadata->>'(\w+)'", r"\1", column.strip().removeprefix("p.")) for column in listed.split(",")]
    assert names == list(PositionRow.__dataclass_fields__)


def named_objects_budget() -> list[PositionRow]:
    d = Decimal
    return [
        row("Základy z betonu C 30/37", code="273321311", object_code="SO 01", object_name="Bytový dům",
            unit="m3", quantity=d("20"), unit_price=d("3000")),
        row("Stěny ze železobetonu C30/37", code="311321411", object_code="SO 02", object_name="Garáž",
            unit="m3", quantity=d("10"), unit_price=d("5000")),
        row("Vrata garážová sekční", code="766000001", object_code="SO 02", object_name="Garáž",
            unit="ks", quantity=d("2"), unit_price=d("16260")),
        row("Podlaha garáže, stěrka", code="632000001", object_code="SO 02", object_name="Garáž",
            unit="m2", quantity=d("100"), unit_price=d("400")),
    ]  # fmt: skip


def test_words_after_an_object_code_that_are_its_name_mean_the_whole_object() -> None:
    reply = answer_total(VERSION, named_objects_budget(), parse_message("Kolik stojí SO 2 Garáž?"))
    # the whole object: 50,000 + 32,520 + 40,000, not only the two positions that say "garáž"
    assert reply.data == {"count": 3, "total_cost": "122520"}
    assert reply.context["filters"] == {"object_code": "SO 2", "object_name": "Garáž"}
    # words that are not the object's name still search its positions
    concrete = answer_total(VERSION, named_objects_budget(), parse_message("Kolik stojí beton v SO 2?"))
    assert concrete.data == {"count": 1, "total_cost": "50000"}


def test_an_object_is_found_by_its_name_in_either_language() -> None:
    for message in ("How much does the garage cost?", "Kolik stojí garáž?"):
        reply = answer_total(VERSION, named_objects_budget(), parse_message(message))
        assert reply.data == {"count": 3, "total_cost": "122520"}, message
        assert reply.context["filters"] == {"object_code": "SO 02", "object_name": "Garáž"}
        assert "SO 02 (Garáž)" in reply.text


def test_a_list_longer_than_an_answer_shows_says_how_many_it_shows() -> None:
    rows = [row(f"Položka {n}", code=f"10000{n}", quantity=Decimal(1), unit_price=Decimal(n)) for n in range(60)]
    reply = answer_find(VERSION, rows, parse_message("Top 99999999999999999999 nejdražších položek"))
    assert len(reply.positions) == 50 and reply.positions[0].code == "1000059"
    assert "nejvýš 50" in reply.text


def test_a_whole_budget_list_has_no_space_before_its_comma() -> None:
    # "Top 5 nejdražších položek" of the whole budget read "Verze 7: 5 položek , celkem …"
    for message, heading in (
        ("Top 5 nejdražších položek", "Verze 7: 5 položek, celkem"),
        ("Top 5 most expensive positions", "Version 7: 5 positions, total"),
    ):
        reply = answer_find(VERSION, budget(), parse_message(message))
        assert reply.text.startswith(heading), reply.text


def test_positions_above_or_below_a_price_are_listed_by_total_largest_first() -> None:
    for message in ("Položky dražší než 10 000 Kč", "Položky levnější než 1 000 000 Kč"):
        reply = answer_find(VERSION, budget(), parse_message(message))
        totals = [p.total_price for p in reply.positions]
        assert totals == sorted(totals, reverse=True) and len(totals) >= 3, message
