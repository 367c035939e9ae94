"""File complaints from a file: JSON (one object or a list), JSON Lines, or `-` for stdin.

    python starter.py complaints.jsonl
    cat complaint.json | python starter.py - --json

One line per complaint: filed, already_filed (the same source system and reference was
filed before; its id is given), or rejected with the reasons, each naming the field.
Exit status: 0 all filed or already filed, 1 some rejected, 2 no Temporal server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from complaints.config import Settings
from complaints.intake import ComplaintIntakeClient, FilingOutcome, FilingResult
from complaints.temporal import TemporalUnreachable, connect, exit_process

MAX_INPUT_BYTES = 50 * 1024 * 1024


def parse_payloads(text: str) -> list[tuple[str, Any]]:
    """(where, payload-or-error) per complaint. A JSON document, else JSON Lines."""
    stripped = text.strip()
    if not stripped:
        return [("input", ValueError("input is empty"))]
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError as whole_err:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        parsed = [(f"line {n}", _parse_line(line)) for n, line in lines]
        if all(isinstance(p, ValueError) for _, p in parsed):
            # Not JSON Lines at all: one malformed document.
            return [
                (
                    "input",
                    ValueError(f"malformed JSON at line {whole_err.lineno} column {whole_err.colno}: {whole_err.msg}"),
                )
            ]
        return parsed
    if isinstance(document, list):
        return [(f"item {i}", item) for i, item in enumerate(document, start=1)]
    return [("input", document)]


def _parse_line(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        return ValueError(f"malformed JSON at column {err.colno}: {err.msg}")


def format_line(where: str, result: FilingResult) -> str:
    if result.outcome == FilingOutcome.REJECTED:
        ref = f" {result.source_reference}" if result.source_reference else ""
        return f"rejected       {where}{ref}: " + "; ".join(result.errors)
    label = "filed" if result.outcome == FilingOutcome.FILED else "already_filed"
    return f"{label:<14} {result.complaint_id} {result.workflow_id} ({result.source_reference})"


async def file_all(text: str, *, as_json: bool, settings: Settings) -> int:
    client = await connect(settings)
    intake = ComplaintIntakeClient(client, task_queue=settings.task_queue)
    rejected = 0
    for where, payload in parse_payloads(text):
        if isinstance(payload, ValueError):
            result = FilingResult(outcome=FilingOutcome.REJECTED, errors=[str(payload)])
        else:
            result = await intake.file(payload)
        rejected += result.outcome == FilingOutcome.REJECTED
        if as_json:
            print(json.dumps({"where": where, **result.model_dump(mode="json")}, ensure_ascii=False), flush=True)
        else:
            print(format_line(where, result), flush=True)
    return 1 if rejected else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="JSON or JSON Lines file, or - for stdin")
    parser.add_argument("--json", action="store_true", help="one JSON object per result line")
    args = parser.parse_args(argv)
    try:
        if args.file == "-":
            text = sys.stdin.read(MAX_INPUT_BYTES + 1)
        else:
            with open(args.file, encoding="utf-8") as fh:
                text = fh.read(MAX_INPUT_BYTES + 1)
    except (OSError, UnicodeDecodeError) as err:
        print(f"error: cannot read {args.file}: {err}", file=sys.stderr)
        return 1
    if len(text) > MAX_INPUT_BYTES:
        print(f"error: {args.file} is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB; split it", file=sys.stderr)
        return 1
    try:
        return asyncio.run(file_all(text, as_json=args.json, settings=Settings()))
    except TemporalUnreachable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    exit_process(main())
