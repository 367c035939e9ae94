"""Contract disputes citing a clause, one per reference given, as the README's clause review files them.

    .venv/bin/python examples/file_disputes.py "第7.3条 提前还款费用" "7.3 prepayment fee" "Clause 7.3"

Each is a new complaint of its own customer on a project-finance contract ("PF-"), received now;
run with `make run` up (``COMPLAINTS_POLICY=policies/compressed.yaml`` for a review due in 30 s).
"""

import asyncio
import sys
import uuid
from datetime import UTC, datetime

from complaints.config import Settings
from complaints.intake import ComplaintIntakeClient, FilingOutcome
from complaints.temporal import connect, exit_process


async def main(references: list[str]) -> None:
    settings = Settings()
    intake = ComplaintIntakeClient(await connect(settings), task_queue=settings.task_queue)
    for reference in references:
        token = uuid.uuid4().hex[:6].upper()
        result = await intake.file(
            {
                "source_system": "email-gateway",
                "source_reference": f"EML-CLAUSE-{token}",
                "channel": "email",
                "received_at": datetime.now(UTC).isoformat(),
                "customer": {
                    "customer_id": f"C-{token}",
                    "name": "王磊 Wang Lei",
                    "company": "苏州精工机械有限公司",
                    "language": "zh",
                    "email": f"finance-{token.lower()}@jinggong.example",
                },
                "summary": f"提前还款费用的计算方式不明确（{reference}）",
                "description": "合同没有说明提前还款费用按剩余本金还是按原始本金计算，银行按原始本金收取。",
                "details": {
                    "category": "contract_dispute",
                    "contract_number": f"PF-2025-{int(token, 16) % 10_000:04d}",
                    "claims": ["按剩余本金重新计算提前还款费用并退还差额"],
                    "amounts_in_dispute": [{"amount": "86000.00", "currency": "CNY"}],
                    "clause_references": [reference],
                },
            }
        )
        if result.outcome == FilingOutcome.REJECTED:
            raise SystemExit("rejected: " + "; ".join(result.errors))
        print(result.outcome.value, result.complaint_id, reference)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["7.3 prepayment fee"]))
    exit_process(0)  # a short-lived client process: see complaints.temporal.exit_process
