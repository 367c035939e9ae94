"""Valid intake payloads for every category; tests change what they are about."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

CATEGORY_DETAILS: dict[str, dict[str, Any]] = {
    "contract_dispute": {
        "category": "contract_dispute",
        "contract_number": "PF-2025-0417",
        "claims": ["Clarify the prepayment fee in clause 7.3"],
        "amounts_in_dispute": [{"amount": "120000.00", "currency": "CNY"}],
    },
    "service_attitude": {"category": "service_attitude", "staff_id": "S-RM-007"},
    "fees_and_interest": {
        "category": "fees_and_interest",
        "contract_number": "CL-2024-1188",
        "charge_type": "penalty_interest",
        "amount_disputed": {"amount": "8600.00"},
    },
    "repayment_collection": {
        "category": "repayment_collection",
        "contract_number": "CL-2023-0042",
        "practice": "excessive_frequency",
        "last_contact_at": "2026-11-20T19:45:00+08:00",
    },
    "privacy": {"category": "privacy", "data_involved": ["shareholder ID numbers"]},
    "product_design": {
        "category": "product_design",
        "product_code": "EQUIP-LEASE-3Y",
        "defect": "Balloon payment not shown in the repayment schedule",
    },
    "other": {"category": "other"},
}


def intake_payload(category: str = "fees_and_interest", **overrides: Any) -> dict[str, Any]:
    """A valid payload with a unique source reference, received a moment ago."""
    payload: dict[str, Any] = {
        "source_system": "call-centre",
        "source_reference": f"TEST-{uuid.uuid4().hex[:12]}",
        "channel": "phone",
        "received_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
        "customer": {
            "customer_id": f"C-{uuid.uuid4().hex[:6]}",
            "name": "Chen Hua",
            "company": "Chen Hua Logistics Ltd",
            "language": "en",
            "email": "chen.hua@logistics.example",
        },
        "summary": "Charged more than the contract says",
        "description": "The customer says the charge does not match the contract.",
        "details": copy.deepcopy(CATEGORY_DETAILS[category]),
    }
    payload.update(overrides)
    return payload
