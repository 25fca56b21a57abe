"""The one interface every audit expert sits behind: positions and a context in, one verdict per position out.

An expert is anything with a ``role`` and ``check(positions, context) -> list[Verdict]`` (the
``Expert`` protocol). Experts see the whole budget at once, so checks across positions (duplicates,
price outliers, reinforcement per m3) cost one pass, and a smarter expert can be plugged in later
without touching the rule-based ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol

import msgspec

from app.domain.budgets.records import PositionRecord
from app.domain.kb.classes import ClassTable, load_class_table
from app.domain.kb.matching import MatchCandidate
from app.domain.kb.reference import (
    CatalogIndex,
    CatalogItem,
    ExposureTable,
    PriceBand,
    load_catalog_index,
    load_exposure_table,
    load_price_bands,
)


class Status(StrEnum):
    """Traffic light of a verdict; ``rank`` orders them GREEN < AMBER < RED."""

    GREEN = "GREEN"
    AMBER = "AMBER"
    RED = "RED"

    @property
    def rank(self) -> int:
        return _RANK[self]


GREEN, AMBER, RED = Status.GREEN, Status.AMBER, Status.RED
_RANK = {GREEN: 0, AMBER: 1, RED: 2}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe of the statuses (GREEN when there are none)."""
    result = GREEN
    rank = 0
    for status in statuses:
        if _RANK[status] > rank:
            result, rank = status, _RANK[status]
    return result


class Issue(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One finding: ``type`` is a stable machine name (e.g. "unit_mismatch"), the rest is for people.

    ``severity`` GREEN marks information (a private code, a code placed only by its class): it is
    reported with the position but never changes its verdict.
    """

    type: str
    severity: Status
    description: str
    suggestion: str | None = None


class Verdict(msgspec.Struct, kw_only=True, gc=False):
    """One expert's judgement of one position.

    ``confidence`` is 0–100 with two decimals. ``claims`` are what the expert asserts about subjects
    other experts may also speak to ("code", "concrete_class"); the orchestrator compares them to find
    conflicts. ``conflicts_with`` / ``resolution`` are filled in by the orchestrator.
    """

    expert: str
    status: Status
    confidence: Decimal
    reasoning: str
    evidence: dict[str, Any] = msgspec.field(default_factory=dict)
    issues: tuple[Issue, ...] = ()
    suggestions: tuple[str, ...] = ()
    claims: dict[str, str] = msgspec.field(default_factory=dict)
    needs_review: bool = False
    conflicts_with: tuple[str, ...] = ()
    resolution: str | None = None

    @classmethod
    def make(
        cls,
        expert: str,
        status: Status,
        confidence: int | float | Decimal,
        reasoning: str,
        *,
        evidence: dict[str, Any] | None = None,
        issues: Sequence[Issue] = (),
        suggestions: Sequence[str] = (),
        claims: dict[str, str] | None = None,
        needs_review: bool = False,
    ) -> Verdict:
        """Build a verdict, clamping and rounding the confidence to 0.00–100.00."""
        return cls(
            expert=expert,
            status=status,
            confidence=as_confidence(confidence),
            reasoning=reasoning,
            evidence=evidence if evidence is not None else {},
            issues=tuple(issues),
            suggestions=tuple(suggestions),
            claims=claims if claims is not None else {},
            needs_review=needs_review,
        )


_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


_WHOLE = {n: Decimal(n).quantize(_CENT) for n in range(101)}


def as_confidence(value: int | float | Decimal) -> Decimal:
    """A confidence as Decimal 0.00–100.00 (floats are converted through their text)."""
    if type(value) is int and 0 <= value <= 100:
        return _WHOLE[value]
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    number = min(max(number, Decimal(0)), _HUNDRED)
    return number.quantize(_CENT)


class AuditPosition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A position as the experts see it: the budget fields plus its identity and enrichment match.

    Fields (all but ``id`` and ``description`` optional):
      id — the position's identity (DB UUID as text, or an index); verdicts refer to it.
      code, description, full_description, unit, quantity, unit_price, total_price, category —
        as in ``positions`` / ``PositionRecord``; money and quantities are Decimal.
      object_code — the budget object (SO 01 …), kept in ``positions.metadata["object_code"]``.
      item_type — K (work) / M (material); catalog — the price system named by the source file.
      match_code, match_score — the enrichment match (``positions.enrichment``: match.code, score 0–1).
    """

    id: str
    description: str | None
    code: str | None = None
    full_description: str | None = None
    unit: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    total_price: Decimal | None = None
    category: str | None = None
    object_code: str | None = None
    item_type: str | None = None
    catalog: str | None = None
    match_code: str | None = None
    match_score: float | None = None

    @property
    def text(self) -> str:
        """Short and full description together: what the text rules read."""
        if self.full_description and self.full_description != self.description:
            return f"{self.description or ''} {self.full_description}"
        return self.description or ""

    @classmethod
    def from_record(cls, record: PositionRecord, id: str | int) -> AuditPosition:
        """From a parsed ``PositionRecord`` (before it has a database id, pass its index)."""
        match = record.metadata.get("enrichment") if isinstance(record.metadata, dict) else None
        match_code, match_score = _match_fields(match)
        return cls(
            id=str(id),
            description=record.description,
            code=record.code,
            full_description=record.full_description,
            unit=record.unit,
            quantity=record.quantity,
            unit_price=record.unit_price,
            total_price=record.total_price,
            category=record.category,
            object_code=record.object_code,
            item_type=record.item_type,
            catalog=record.catalog,
            match_code=match_code,
            match_score=match_score,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditPosition:
        """From a ``positions`` row as a mapping (``metadata`` and ``enrichment`` as dicts)."""
        metadata = row.get("metadata") or row.get("metadata_") or {}
        match_code, match_score = _match_fields(row.get("enrichment"))
        return cls(
            id=str(row["id"]),
            description=row.get("description"),
            code=row.get("code"),
            full_description=row.get("full_description") or metadata.get("full_description"),
            unit=row.get("unit"),
            quantity=_decimal(row.get("quantity")),
            unit_price=_decimal(row.get("unit_price")),
            total_price=_decimal(row.get("total_price")),
            category=row.get("category"),
            object_code=row.get("object_code") or metadata.get("object_code"),
            item_type=row.get("item_type") or metadata.get("item_type"),
            catalog=row.get("catalog") or metadata.get("catalog"),
            match_code=match_code,
            match_score=match_score,
        )


def _match_fields(enrichment: Any) -> tuple[str | None, float | None]:
    if not isinstance(enrichment, Mapping):
        return None, None
    match = enrichment.get("match")
    code = match.get("code") if isinstance(match, Mapping) else None
    score = enrichment.get("score")
    return code, float(score) if isinstance(score, (int, float, Decimal, str)) and score != "" else None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class AuditSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Tolerances and thresholds of the rule-based experts (the README's severity model)."""

    total_tolerance: Decimal = Decimal("0.01")  # a line total is rounded to 0.01
    quantity_step: Decimal = Decimal("0.001")  # quantities are rounded to 0.001 before pricing
    # A catalogue reference price stands for the band reference / factor … reference × factor.
    reference_band_factor: Decimal = Decimal("1.5")
    # Outside a band → AMBER; beyond band top × factor or below band bottom / factor → RED.
    band_red_factor: Decimal = Decimal(3)
    # The same code priced this many times above or below its other uses in the budget → AMBER.
    same_code_factor: Decimal = Decimal(2)
    # A price this many times above or below the median of its TSKP class peers (same unit) → AMBER.
    class_peer_factor: Decimal = Decimal(6)
    class_peer_min_group: int = 3
    # A budget is priced when at least this share of its positions carries a unit price.
    priced_share: float = 0.5
    rebar_min_kg_per_m3: Decimal = Decimal(80)
    rebar_max_kg_per_m3: Decimal = Decimal(200)
    formwork_min_m2_per_m3: Decimal = Decimal("0.2")
    formwork_max_m2_per_m3: Decimal = Decimal(15)
    review_match_score: float = 0.5
    candidate_min_score: float = 0.3


@dataclass(frozen=True)
class AuditContext:
    """Everything an expert may consult besides the positions; built once per audit run.

    ``catalog`` maps code → item (any Mapping; wrapped into a ``CatalogIndex``), ``candidates`` maps a
    position id → catalogue candidates found by enrichment for codes the catalogue does not know.
    ``priced`` says whether the budget is a priced one (see ``is_priced``); ``classes`` is the TSKP table.
    """

    catalog: Mapping[str, CatalogItem]
    exposure_table: ExposureTable
    price_bands: Sequence[PriceBand]
    priced: bool
    candidates: Mapping[str, Sequence[MatchCandidate]] = field(default_factory=dict)
    settings: AuditSettings = field(default_factory=AuditSettings)
    classes: ClassTable = field(default_factory=load_class_table)
    index: CatalogIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", CatalogIndex.of(self.catalog))

    @classmethod
    def for_budget(
        cls,
        positions: Sequence[AuditPosition],
        *,
        catalog: Mapping[str, CatalogItem] | Sequence[CatalogItem] | None = None,
        exposure_table: ExposureTable | None = None,
        price_bands: Sequence[PriceBand] | None = None,
        candidates: Mapping[str, Sequence[MatchCandidate]] | None = None,
        settings: AuditSettings | None = None,
        classes: ClassTable | None = None,
    ) -> AuditContext:
        """A context for these positions; what is not given comes from the shipped reference data."""
        settings = settings or AuditSettings()
        return cls(
            catalog=CatalogIndex.of(catalog) if catalog is not None else load_catalog_index(),
            exposure_table=exposure_table or load_exposure_table(),
            price_bands=tuple(price_bands) if price_bands is not None else load_price_bands().bands,
            priced=is_priced(positions, settings.priced_share),
            candidates=candidates or {},
            settings=settings,
            classes=classes or load_class_table(),
        )


def has_price(position: AuditPosition) -> bool:
    """The position carries money: a unit price or a line total above zero."""
    return (position.unit_price is not None and position.unit_price > 0) or (
        position.total_price is not None and position.total_price > 0
    )


class BudgetPricing(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a budget is priced, said once for the whole budget (never position by position)."""

    positions: int
    priced_positions: int
    priced: bool

    @classmethod
    def of_counts(cls, positions: int, priced_positions: int, share: float = 0.5) -> BudgetPricing:
        """A priced budget: at least ``share`` of its positions carry a unit price above zero.

        A blank tender budget (all prices 0 or blank) is not; neither is one where a few lines were
        pre-filled. Only in a priced budget is a position without a price worth a look.
        """
        priced = positions > 0 and priced_positions > 0 and priced_positions >= share * positions
        return cls(positions=positions, priced_positions=priced_positions, priced=priced)

    @property
    def finding(self) -> Issue | None:
        """The budget-level note on an unpriced or partly priced budget (information)."""
        if self.priced or self.positions == 0:
            return None
        if self.priced_positions == 0:
            text = (
                f"The budget is unpriced: none of its {self.positions} positions has a unit price (a tender "
                "budget). Positions are judged on quantity, unit, code and concrete; prices are not asked for."
            )
        else:
            text = (
                f"The budget is mostly unpriced: {self.priced_positions} of {self.positions} positions have a unit "
                "price. Missing prices are not flagged; the prices given are judged."
            )
        return Issue(type="unpriced_budget", severity=GREEN, description=text)


def budget_pricing(positions: Sequence[AuditPosition], share: float = 0.5) -> BudgetPricing:
    priced = sum(1 for p in positions if p.unit_price is not None and p.unit_price > 0)
    return BudgetPricing.of_counts(len(positions), priced, share)


def is_priced(positions: Sequence[AuditPosition], share: float = 0.5) -> bool:
    """See ``BudgetPricing.of_counts``."""
    return budget_pricing(positions, share).priced


class Expert(Protocol):
    """An audit expert: one fresh verdict per position, in the order of ``positions``, signed with ``role``.

    The orchestrator annotates the verdicts it receives (``conflicts_with``, ``resolution``), so an
    expert must not hand out the same ``Verdict`` object for two positions.
    """

    @property
    def role(self) -> str: ...

    def check(self, positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]: ...


CheckFunction = Callable[[Sequence[AuditPosition], AuditContext], list[Verdict]]


@dataclass(frozen=True)
class RuleExpert:
    """A rule-based expert made of a role name and a check function."""

    role: str
    rules: CheckFunction

    def check(self, positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]:
        return self.rules(positions, context)


class PositionAudit(msgspec.Struct, kw_only=True, gc=False):
    """All verdicts for one position: each expert's, then the orchestrator's combined ``final``."""

    position_id: str
    verdicts: tuple[Verdict, ...]
    final: Verdict

    @property
    def status(self) -> Status:
        return self.final.status

    @property
    def needs_review(self) -> bool:
        return self.final.needs_review
