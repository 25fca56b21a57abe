"""The assistant's answers, composed from rows that queries returned: never a figure of its own.

Pure. Each function takes the intent and plain data (positions of a version, audit verdicts, a
version diff) and returns a `Reply`: the text in the asker's language, where it came from
(`source`), the version and filters used (`context`), and the positions it mentions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from app.domain.chat.budget_view import (
    PositionRow,
    Selection,
    apply_filter,
    by_cost,
    normal_unit,
    quantities_by_unit,
    quantity_in,
    select,
    total_of,
)
from app.domain.chat.intents import INT4_MAX, Intent
from app.domain.chat.language import count_of, format_money, format_number

TOP_LINES = 5
LIST_LINES = 10
MAX_LIST_LINES = 50
SOURCE_LENGTH = 100  # chat_history.answer_source is VARCHAR(100)


class MentionedPosition(msgspec.Struct, kw_only=True):
    """A position an answer names, so that a page can link it (by id or, across versions, lineage_id)."""

    id: uuid.UUID
    lineage_id: uuid.UUID
    code: str | None
    description: str
    object_code: str | None
    unit: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    total_price: Decimal | None
    status: str | None

    @classmethod
    def of(cls, row: PositionRow) -> MentionedPosition:
        return cls(
            id=row.id,
            lineage_id=row.lineage_id,
            code=row.code,
            description=row.description,
            object_code=row.object_code,
            unit=row.unit,
            quantity=row.quantity,
            unit_price=row.unit_price,
            total_price=row.total_price,
            status=row.status,
        )


class Reply(msgspec.Struct, kw_only=True):
    text: str
    intent: str
    confidence: float
    source: str
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    positions: list[MentionedPosition] = msgspec.field(default_factory=list)
    actions: list[dict[str, Any]] = msgspec.field(default_factory=list)
    data: dict[str, Any] = msgspec.field(default_factory=dict)  # the figures, machine-readable


@dataclass(frozen=True)
class VersionInfo:
    number: int
    id: uuid.UUID
    total_cost: Decimal
    total_positions: int


def say(language: str, cs: str, en: str) -> str:
    return cs if language == "cs" else en


def source_text(text: str) -> str:
    return text if len(text) <= SOURCE_LENGTH else text[: SOURCE_LENGTH - 1] + "…"


def scope_phrase(filters: Mapping[str, object], language: str) -> str:
    """How a selection is named: "v SO 1, díl 'zemní práce', odpovídající 'beton'"."""
    parts = []
    if "object_code" in filters:
        named = f" ({filters['object_name']})" if "object_name" in filters else ""
        parts.append(say(language, f"v {filters['object_code']}{named}", f"in {filters['object_code']}{named}"))
    if "category" in filters:
        parts.append(say(language, f"v dílu '{filters['category']}'", f"in section '{filters['category']}'"))
    if "code" in filters:
        parts.append(say(language, f"s kódem {filters['code']}", f"with code {filters['code']}"))
    if "position_number" in filters:
        parts.append(say(language, f"s číslem {filters['position_number']}", f"numbered {filters['position_number']}"))
    if "text" in filters:
        parts.append(say(language, f"s popisem '{filters['text']}'", f"described '{filters['text']}'"))
    if "terms" in filters:
        terms = str(filters.get("words") or " ".join(str(t) for t in filters["terms"]))  # type: ignore[attr-defined]
        parts.append(say(language, f"odpovídající '{terms}'", f"matching '{terms}'"))
    return ", ".join(parts)


def source_of(version: VersionInfo, count: int, filters: Mapping[str, object], what: str = "rows") -> str:
    """answer_source: "positions of version 7: 12 rows matching 'beton' in SO 1"."""
    scope = scope_phrase(filters, "en")
    return source_text(f"positions of version {version.number}: {count} {what}{' ' + scope if scope else ''}")


def position_line(row: PositionRow, language: str) -> str:
    parts = [row.code or "—", row.description[:80]]
    if row.object_code:
        parts.append(f"({row.object_code})")
    amount = []
    if row.quantity is not None:
        amount.append(f"{format_number(row.quantity, language, 4)} {row.unit or ''}".strip())
    if row.unit_price is not None:
        amount.append(f"× {format_money(row.unit_price, language)}")
    if row.total_price is not None:
        amount.append(f"= {format_money(row.total_price, language)}")
    return " ".join(parts) + (": " + " ".join(amount) if amount else "")


def lines(rows: Sequence[PositionRow], language: str) -> str:
    return "\n".join(f"- {position_line(row, language)}" for row in rows)


def answer_context(version: int, intent: Intent, filters: Mapping[str, object], **extra: Any) -> dict[str, Any]:
    """`context` of an answer: the version read, the intent and its parameters, the filters applied."""
    return {
        "version": version,
        "intent": intent.name,
        "params": intent.params(),
        "filters": dict(filters),
        **extra,
    }


def no_budget(intent: Intent) -> Reply:
    return Reply(
        text=say(
            intent.language,
            "Projekt zatím nemá žádný rozpočet: nahrajte soubor s rozpočtem nebo přidejte položku.",
            "The project has no budget yet: upload a budget file or add a position.",
        ),
        intent=intent.name,
        confidence=intent.confidence,
        source="budget versions: none",
        context={"version": 0, "intent": intent.name, "params": intent.params()},
    )


def nothing_matches(version: VersionInfo, intent: Intent, selection: Selection, rows: Sequence[PositionRow]) -> Reply:
    """No position in scope: say so, and name the objects or sections the budget does have."""
    language = intent.language
    scope = scope_phrase(selection.filters, language)
    text = say(
        language,
        f"Ve verzi {version.number} není žádná položka {scope}.",
        f"Version {version.number} has no position {scope}.",
    )
    if "object_code" in selection.filters:
        objects = sorted({row.object_code for row in rows if row.object_code})
        text += " " + (
            say(language, "Objekty rozpočtu: ", "The budget's objects: ") + ", ".join(objects[:20])
            if objects
            else say(language, "Položky rozpočtu nemají objekty.", "The budget's positions have no objects.")
        )
    elif "category" in selection.filters:
        categories = sorted({row.category for row in rows if row.category})
        if categories:
            text += " " + say(language, "Díly rozpočtu: ", "The budget's sections: ") + ", ".join(categories[:20])
    return empty_reply(version, intent, selection.filters, text)


def empty_reply(version: VersionInfo, intent: Intent, filters: Mapping[str, object], text: str) -> Reply:
    """An answer that found no position: the text says so, the source and context say where it looked."""
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence,
        source=source_of(version, 0, filters),
        context=answer_context(version.number, intent, filters, matched=0),
        data={"count": 0},
    )


def scope_rows(rows: Sequence[PositionRow], intent: Intent, selection: Selection) -> list[PositionRow]:
    scoped = selection.rows
    if intent.statuses:
        wanted = set(intent.statuses)
        scoped = [row for row in scoped if row.status in wanted]
        selection.filters["statuses"] = list(intent.statuses)
    if intent.filter:
        scoped = apply_filter(scoped, intent.filter)
        selection.filters["filter"] = intent.filter
    if intent.min_total is not None:
        scoped = [row for row in scoped if row.total_price is not None and row.total_price > intent.min_total]
        selection.filters["min_total"] = str(intent.min_total)
    if intent.max_total is not None:
        scoped = [row for row in scoped if row.total_price is not None and row.total_price < intent.max_total]
        selection.filters["max_total"] = str(intent.max_total)
    return scoped


def answer_total(version: VersionInfo, rows: Sequence[PositionRow], intent: Intent) -> Reply:
    """Cost (or count, or quantity) of the budget or of a scope, with the positions that add up to it."""
    language = intent.language
    selection = select(rows, intent)
    scoped = scope_rows(rows, intent, selection)
    if not scoped:
        return nothing_matches(version, intent, selection, rows)
    scope = scope_phrase(selection.filters, language)
    whole = not selection.filters
    subject = (
        say(language, f"Rozpočet (verze {version.number})", f"The budget (version {version.number})")
        if whole
        else say(language, f"Položky {scope} (verze {version.number})", f"Positions {scope} (version {version.number})")
    )
    total = total_of(scoped)
    top = by_cost(scoped)[:TOP_LINES]
    data: dict[str, Any] = {"count": len(scoped), "total_cost": str(total)}
    if intent.measure == "count":
        text = say(
            language, f"{subject}: {count_of(len(scoped), language)}.", f"{subject}: {count_of(len(scoped), language)}."
        )
    elif intent.measure == "quantity":
        if intent.unit:
            amount, counted, unit = quantity_in(scoped, intent.unit)
            data.update(quantity=str(amount), unit=unit, counted=counted)
            text = say(
                language,
                f"{subject}: {format_number(amount, language, 4)} {unit} ({count_of(counted, language)} v {unit}"
                f"{'' if counted == len(scoped) else f', {len(scoped) - counted} v jiných jednotkách'}).",
                f"{subject}: {format_number(amount, language, 4)} {unit} ({count_of(counted, language)} in {unit}"
                f"{'' if counted == len(scoped) else f', {len(scoped) - counted} in other units'}).",
            )
        else:
            sums = quantities_by_unit(scoped)
            data["quantities"] = {unit: str(amount) for unit, (amount, _) in sums.items()}
            listed = "; ".join(
                f"{format_number(amount, language, 4)} {unit} ({count})" for unit, (amount, count) in sums.items()
            )
            text = f"{subject}: {listed or say(language, 'bez množství', 'no quantities')}."
        top = top or scoped[:TOP_LINES]
    else:
        text = say(
            language,
            f"{subject}: {format_money(total, language)} ({count_of(len(scoped), language)}).",
            f"{subject}: {format_money(total, language)} ({count_of(len(scoped), language)}).",
        )
        unpriced = sum(1 for row in scoped if row.total_price is None)
        if unpriced:
            text += " " + say(
                language,
                f"Bez ceny celkem: {count_of(unpriced, language)}.",
                f"Without a total price: {count_of(unpriced, language)}.",
            )
        if whole and total != version.total_cost:
            text += " " + say(
                language,
                f"(Součet verze: {format_money(version.total_cost, language)}.)",
                f"(The version's total: {format_money(version.total_cost, language)}.)",
            )
    if top and len(scoped) > 1:
        text += "\n" + say(language, "Největší položky:", "Largest positions:") + "\n" + lines(top, language)
    elif len(scoped) == 1:
        text += "\n" + lines(scoped, language)
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence,
        source=source_of(version, len(scoped), selection.filters),
        context=answer_context(version.number, intent, selection.filters, matched=len(scoped)),
        positions=[MentionedPosition.of(row) for row in (top or scoped[:TOP_LINES])],
        data=data,
    )


_FILTER_NAMES = {
    "unpriced": ("bez jednotkové ceny", "without a unit price"),
    "no_quantity": ("bez množství", "without a quantity"),
    "no_code": ("bez kódu", "without a code"),
    "duplicates": ("duplicitní (stejný kód, popis a objekt)", "duplicated (same code, description and object)"),
}


def answer_find(version: VersionInfo, rows: Sequence[PositionRow], intent: Intent) -> Reply:
    """A look-up: the positions in scope that pass the filter, in budget order or by cost."""
    language = intent.language
    selection = select(rows, intent)
    scoped = scope_rows(rows, intent, selection)
    limit = min(intent.limit or LIST_LINES, MAX_LIST_LINES)
    if intent.order == "most_expensive":
        ordered = by_cost(scoped)
    elif intent.order == "cheapest":
        ordered = by_cost(scoped, descending=False)
    elif intent.min_total is not None or intent.max_total is not None:
        ordered = by_cost(scoped)  # a price bound asks about money: the largest first, as "top N" lists
    else:
        ordered = scoped
    if intent.order:
        selection.filters["order"] = intent.order
    described = scope_phrase(selection.filters, language)
    if intent.filter:
        cs, en = _FILTER_NAMES[intent.filter]
        described = ", ".join(part for part in (say(language, cs, en), described) if part)
    if intent.min_total is not None:
        described += say(
            language,
            f" dražší než {format_money(intent.min_total, language)}",
            f" costing more than {format_money(intent.min_total, language)}",
        )
    if intent.max_total is not None:
        described += say(
            language,
            f" levnější než {format_money(intent.max_total, language)}",
            f" costing less than {format_money(intent.max_total, language)}",
        )
    described = described.strip()
    if not ordered:
        text = say(
            language,
            f"Ve verzi {version.number} není žádná položka {described}.",
            f"Version {version.number} has no position {described}.",
        )
        return empty_reply(version, intent, selection.filters, text)
    shown = ordered[:limit]
    counted = " ".join(part for part in (count_of(len(ordered), language), described) if part)
    heading = say(
        language,
        f"Verze {version.number}: {counted}, celkem {format_money(total_of(ordered), language)}.",
        f"Version {version.number}: {counted}, total {format_money(total_of(ordered), language)}.",
    )
    if len(ordered) > len(shown):
        heading += " " + say(language, f"Prvních {len(shown)}:", f"The first {len(shown)}:")
        if intent.limit is not None and intent.limit > limit:
            heading += " " + say(
                language,
                f"(jedna odpověď ukáže nejvýš {MAX_LIST_LINES} položek)",
                f"(one answer shows at most {MAX_LIST_LINES} positions)",
            )
    return Reply(
        text=heading + "\n" + lines(shown, language),
        intent=intent.name,
        confidence=intent.confidence,
        source=source_of(version, len(ordered), selection.filters),
        context=answer_context(version.number, intent, selection.filters, matched=len(ordered)),
        positions=[MentionedPosition.of(row) for row in shown],
        data={"count": len(ordered), "total_cost": str(total_of(ordered))},
    )


def dominant_unit(rows: Iterable[PositionRow]) -> str | None:
    sums = quantities_by_unit(rows)
    if not sums:
        return None
    return max(sums.items(), key=lambda item: item[1][1])[0]


def answer_ratio(version: VersionInfo, rows: Sequence[PositionRow], intent: Intent) -> Reply:
    """Quantity of one material per unit of another in the same scope, e.g. reinforcement kg per m3 of concrete."""
    language = intent.language
    numerator_terms = list(intent.terms)
    denominator_terms = list(intent.per_terms)
    if not denominator_terms and len(numerator_terms) >= 2:
        numerator_terms, denominator_terms = numerator_terms[:1], numerator_terms[1:2]
    scope_intent = msgspec.structs.replace(intent, terms=())
    base = select(rows, scope_intent)
    numerator = select(base.rows, scope_intent, terms=numerator_terms)
    denominator = select(base.rows, scope_intent, terms=denominator_terms)
    filters = {**base.filters, "numerator": numerator_terms, "denominator": denominator_terms}
    per_unit = normal_unit(intent.per_unit) if intent.per_unit else dominant_unit(denominator.rows)
    numerator_unit = dominant_unit(numerator.rows)
    if numerator_unit == "t":
        numerator_unit = "kg"  # reinforcement is judged in kg per m3
    context = answer_context(version.number, intent, filters)
    source = source_text(
        f"positions of version {version.number}: {len(numerator.rows)} rows '{intent.shown(numerator_terms)}', "
        f"{len(denominator.rows)} rows '{intent.shown(denominator_terms)}'"
        + (f" in {intent.object_code}" if intent.object_code else "")
    )
    scope = scope_phrase(base.filters, language)
    if not numerator.rows or not denominator.rows or per_unit is None or numerator_unit is None:
        missing = numerator_terms if not numerator.rows else denominator_terms
        return Reply(
            text=say(
                language,
                f"Poměr nelze spočítat: ve verzi {version.number} {scope} nejsou položky odpovídající "
                f"'{intent.shown(missing)}' s množstvím.",
                f"The ratio cannot be computed: version {version.number} {scope} has no positions matching "
                f"'{intent.shown(missing)}' with a quantity.",
            ).replace("  ", " "),
            intent=intent.name,
            confidence=intent.confidence,
            source=source,
            context=context,
            data={"numerator_count": len(numerator.rows), "denominator_count": len(denominator.rows)},
        )
    top_amount, top_count, top_unit = quantity_in(numerator.rows, numerator_unit)
    bottom_amount, bottom_count, bottom_unit = quantity_in(denominator.rows, per_unit)
    ratio = top_amount / bottom_amount if bottom_amount else None
    data = {
        "numerator": {"quantity": str(top_amount), "unit": top_unit, "positions": top_count},
        "denominator": {"quantity": str(bottom_amount), "unit": bottom_unit, "positions": bottom_count},
        "ratio": str(ratio.quantize(Decimal("0.001"))) if ratio is not None else None,
        "ratio_unit": f"{top_unit}/{bottom_unit}",
    }
    figures = (
        f"'{intent.shown(numerator_terms)}' {format_number(top_amount, language)} {top_unit} "
        f"({count_of(top_count, language)}), '{intent.shown(denominator_terms)}' "
        f"{format_number(bottom_amount, language)} {bottom_unit} ({count_of(bottom_count, language)})"
    )
    where = f" {scope}" if scope else ""
    if ratio is None:
        text = say(
            language,
            f"Verze {version.number}{where}: {figures}; množství '{intent.shown(denominator_terms)}' v {bottom_unit} "
            "je nulové, poměr nelze spočítat.",
            f"Version {version.number}{where}: {figures}; the quantity of '{intent.shown(denominator_terms)}' in "
            f"{bottom_unit} is zero, so there is no ratio.",
        )
    else:
        text = say(
            language,
            f"Verze {version.number}{where}: {format_number(ratio, language)} {top_unit}/{bottom_unit} ({figures}).",
            f"Version {version.number}{where}: {format_number(ratio, language)} {top_unit}/{bottom_unit} ({figures}).",
        )
    mentioned = (by_cost(numerator.rows)[:3] or numerator.rows[:3]) + (
        by_cost(denominator.rows)[:3] or denominator.rows[:3]
    )
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence,
        source=source,
        context=context,
        positions=[MentionedPosition.of(row) for row in mentioned],
        data=data,
    )


HELP_CS = (
    "Umím odpovídat z dat rozpočtu a měnit ho příkazy. Zkuste:\n"
    "- Kolik stojí beton? · Kolik stojí SO 201? · Kolik stojí díl Zemní práce? · Kolik je položek?\n"
    "- Které položky jsou červené? · Proč je 273321311 červená?\n"
    "- Co se změnilo ve verzi 5? · Co se změnilo od včerejška? · Rozdíl mezi verzí 3 a 5\n"
    "- Najdi položky bez ceny · Top 10 nejdražších položek · Kolik výztuže na m3 betonu v SO 1?\n"
    "- Změň množství 411321414 v SO 1 na 35 · Nastav cenu 273321311 na 4 900 Kč · Smaž položku 273321311\n"
    "- Spusť audit · Exportuj do xlsx"
)
HELP_EN = (
    "I answer from the budget's data and change it on command. Try:\n"
    "- What does concrete cost? · What does SO 201 cost? · How many positions are there?\n"
    "- Which positions are red? · Why is 273321311 red?\n"
    "- What changed in version 5? · What changed since yesterday? · Changes between version 3 and 5\n"
    "- Find positions without a price · Top 10 most expensive items\n"
    "- How much reinforcement per m3 of concrete in SO 1?\n"
    "- Set the quantity of 411321414 in SO 1 to 35 · Set the price of 273321311 to 4900 · Delete position 273321311\n"
    "- Run the audit · Export to xlsx"
)


def answer_unreadable(intent: Intent) -> Reply:
    """A number the message gives that cannot be what it names ("verzi 99999999999999"): said, and
    nothing done, rather than read in part or dropped (which would answer about the latest version)."""
    written = ", ".join(f"'{words}'" for words in intent.unreadable)
    highest = format_number(Decimal(INT4_MAX), intent.language, 0)
    text = say(
        intent.language,
        f"{written}: takové číslo verze být nemůže (verze mají čísla nejvýš {highest}); nic jsem neprovedl."
        " Napište číslo existující verze.",
        f"{written}: that number cannot be a version number (versions are numbered up to {highest});"
        " nothing was done. Write the number of an existing version.",
    )
    actions = (
        [{"action": intent.name, "before": None, "after": None, "result": {"status": "invalid"}}]
        if intent.is_command
        else []
    )
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence,
        source=source_text(f"the message: {written} unreadable"),
        context={"intent": intent.name, "params": intent.params()},
        actions=actions,
    )


def answer_help(intent: Intent, *, understood: bool = True) -> Reply:
    language = intent.language
    text = HELP_CS if language == "cs" else HELP_EN
    if not understood:
        text = (
            say(
                language,
                "Této otázce nerozumím a hádat nebudu.",
                "I did not understand that, and I will not guess.",
            )
            + " "
            + text
        )
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence if understood else 0.0,
        source="the assistant's list of questions and commands",
        context={"intent": intent.name},
    )
