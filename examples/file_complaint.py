"""How an intake system files a complaint with the typed helper (run it with `make run` up).

    .venv/bin/python examples/file_complaint.py [SOURCE_REFERENCE]

Run it twice: the second run answers `already_filed` with the same complaint id.
"""

import asyncio
import sys
from datetime import UTC, datetime

from complaints.config import Settings
from complaints.intake import ComplaintIntakeClient, FilingOutcome
from complaints.temporal import connect, exit_process
from models.intake import (
    Channel,
    ComplaintIntake,
    Customer,
    FeesAndInterestDetails,
    Money,
)


async def main() -> None:
    settings = Settings()
    intake = ComplaintIntakeClient(await connect(settings), task_queue=settings.task_queue)
    complaint = ComplaintIntake(
        source_system="online-platform",
        source_reference=sys.argv[1] if len(sys.argv) > 1 else "WEB-2026-000981",
        channel=Channel.WEB_PLATFORM,
        received_at=datetime.now(UTC),
        customer=Customer(
            customer_id="C-200117",
            name="Liu Min",
            company="Liu Min Trading Co.",
            language="en",
            email="liu.min@trading.example",
        ),
        summary="Penalty interest charged although the instalment was paid on time",
        description="The October instalment left our account on the due date; penalty interest was still charged.",
        details=FeesAndInterestDetails(
            contract_number="CL-2024-1188", charge_type="penalty_interest", amount_disputed=Money(amount="8600.00")
        ),
    )
    result = await intake.file(complaint)
    if result.outcome == FilingOutcome.REJECTED:
        raise SystemExit("rejected: " + "; ".join(result.errors))
    print(result.outcome.value, result.complaint_id)
    status = await intake.status(result.complaint_id)
    print("status:", status.snapshot.status.value)


if __name__ == "__main__":
    asyncio.run(main())
    exit_process(0)  # a short-lived client process: see complaints.temporal.exit_process
