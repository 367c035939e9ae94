"""Writing a regulator's return to disk: built, validated, and only then written.

A plain function, not an activity: the reporting workflow's activity (and the CLI) call it.
Nothing is written before the rows pass their schema, and each file is written under a
temporary name in the same directory and renamed into place, so a failing return, or a crash
half-way, leaves no file (and never a truncated one) where the report expects its return.
"""

from __future__ import annotations

import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from db.returns_queries import build_return
from domain.returns import Row, summarise, to_csv
from models.analysis import Period, ReturnKind
from models.policy import Policy
from models.returns import load_schema


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _document(kind: ReturnKind, period: Period, previous: Period, policy: Policy, rows: list[Row]) -> str:
    """The return as JSON: what it is, for which period and policy, from which schema, and its rows."""
    document = {
        "kind": kind.value,
        "schema": load_schema(kind.value)["$id"],
        "period": period.model_dump(mode="json"),
        "previous": previous.model_dump(mode="json"),
        "policy_version": policy.version,
        "currency": policy.amount_currency,
        "timezone": policy.timezone,
        "rows": rows,
    }
    return json.dumps(document, ensure_ascii=False, indent=2, default=_json_default) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_return(
    engine: Engine, kind: ReturnKind, period: Period, previous: Period, policy: Policy, directory: Path
) -> dict[str, Any]:
    """Build ``kind`` for ``period``, validate it, then write ``<kind>.csv`` and ``<kind>.json``.

    Returns ``{"files": {"csv": path, "json": path}, "rows": n, "summary": {...}}``. Raises
    ``domain.returns.ReturnInvalid`` (and writes nothing) when a row fails the schema.
    """
    kind = ReturnKind(kind)
    with engine.connect() as conn:
        rows = build_return(conn, kind, period, previous, policy)
    csv_text, json_text = to_csv(kind, rows), _document(kind, period, previous, policy, rows)
    directory.mkdir(parents=True, exist_ok=True)
    files = {"csv": directory / f"{kind.value}.csv", "json": directory / f"{kind.value}.json"}
    _write_atomically(files["csv"], csv_text)
    _write_atomically(files["json"], json_text)
    return {
        "files": {name: str(path) for name, path in files.items()},
        "rows": len(rows),
        "summary": summarise(kind, rows),
    }
