"""Benchmark of the pure audit: all experts + orchestrator over 2,000 and 10,000 generated positions.

Not a test. Prints JSON (seconds per size) and writes ``loadtests/reports/audit.json``.
Run: ``.venv/bin/python loadtests/bench_audit.py``. The end-to-end targets (2,000 < 2 s,
10,000 < 10 s including the database) leave the pure functions a budget well under 0.5 s / 10,000.
"""

from __future__ import annotations

import gc
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from app.domain.audits.concrete_text import read_concrete_spec
from app.domain.audits.experts import DEFAULT_EXPERTS, AuditContext, AuditPosition, audit_budget
from app.domain.audits.experts.structural import _classify
from app.domain.kb.codes import code_shape
from app.domain.kb.reference import CatalogIndex, CatalogItem, load_catalog_extract

SIZES = (2_000, 10_000)
REPEATS = 3
REPORT = Path(__file__).parent / "reports" / "audit.json"
_CENT = Decimal("0.01")
_CONCRETE_SPECS = ("C16/20 XC1", "C25/30 XC2", "C30/37 XC4 XF1", "C25/30 XD3", "C30/37 XF4", "C35/45 XD3 XF4 LP 5 %")


def generate_positions(count: int, catalog: list[CatalogItem], seed: int = 2025) -> list[AuditPosition]:
    """A priced budget of ``count`` positions in objects of ~150, shaped like real exports.

    Mostly catalogue items priced within ±10 % of their reference (15 % of them much further off),
    plus concrete with classes and exposures, 5 % private codes, 2 % unknown codes, 2 % unit
    mix-ups, 1 % wrong totals, 1 % missing prices, and the duplicates that random picks produce.
    """
    rng = random.Random(seed)
    priced_items = [item for item in catalog if item.reference_price]
    positions: list[AuditPosition] = []
    for index in range(count):
        obj = f"SO {index // 150 + 1:02d}"
        roll = rng.random()
        item = rng.choice(priced_items if roll < 0.8 else catalog)
        code: str | None = item.code
        description = item.description
        unit = item.unit
        reference = item.reference_price or Decimal(rng.randint(50, 20_000))
        spread = (0.9, 1.1) if rng.random() < 0.85 else (0.4, 1.8)
        price = (reference * Decimal(str(rng.uniform(*spread)))).quantize(_CENT)
        if roll < 0.05:
            code = f"Pol{rng.randint(1, 400)}"
        elif roll < 0.07:
            code = str(rng.randint(100_000_000, 999_999_999))
        elif roll < 0.09 and unit:
            unit = unit.upper() if rng.random() < 0.5 else "kus"
        if "beton" in description.lower() and rng.random() < 0.7:
            description = f"{description} {rng.choice(_CONCRETE_SPECS)}"
        quantity = Decimal(str(round(rng.uniform(0.5, 500), 3)))
        total = (quantity * price).quantize(_CENT)
        if rng.random() < 0.01:
            total += Decimal(100)
        if rng.random() < 0.01:
            price = Decimal(0)
            total = Decimal(0)
        positions.append(
            AuditPosition(
                id=f"p{index:06d}",
                code=code,
                description=description,
                unit=unit,
                quantity=quantity,
                unit_price=price,
                total_price=total,
                object_code=obj,
                item_type="K",
                catalog=item.catalog,
            )
        )
    return positions


def _clear_caches() -> None:
    """Forget memoised text parsing so every size is measured cold, as a fresh worker would run it."""
    read_concrete_spec.cache_clear()
    _classify.cache_clear()
    code_shape.cache_clear()


def _time(run: Callable[[], object]) -> float:
    """Wall time of one call, starting from a collected heap (GC stays on while it runs)."""
    gc.collect()
    start = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def main() -> dict[str, Any]:
    catalog = load_catalog_extract()
    index = CatalogIndex(catalog)
    results: dict[str, Any] = {}
    for size in SIZES:
        positions = generate_positions(size, catalog)
        context_seconds = _time(partial(AuditContext.for_budget, positions, catalog=index))
        context = AuditContext.for_budget(positions, catalog=index)
        _clear_caches()
        cold = _time(partial(audit_budget, positions, context))
        warm = min(_time(partial(audit_budget, positions, context)) for _ in range(REPEATS))
        per_expert = {}
        for expert in DEFAULT_EXPERTS:
            _clear_caches()
            per_expert[expert.role] = round(_time(partial(expert.check, positions, context)), 4)
        audits = audit_budget(positions, context)
        statuses: dict[str, int] = {}
        for audit in audits:
            statuses[audit.status.value] = statuses.get(audit.status.value, 0) + 1
        results[str(size)] = {
            "positions": size,
            "seconds_cold": round(cold, 4),
            "seconds_warm_best": round(warm, 4),
            "seconds_context": round(context_seconds, 4),
            "seconds_per_expert_cold": per_expert,
            "verdicts": size * (len(DEFAULT_EXPERTS) + 1),
            "final_statuses": dict(sorted(statuses.items())),
        }
    report = {
        "benchmark": "audit_budget (pure functions, no database)",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "experts": [expert.role for expert in DEFAULT_EXPERTS],
        "results": results,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
