"""What the codec's server-backed tests share: an encrypting client, a codec server in process,
and every text a history's JSON holds (base64 fields decoded too)."""

from __future__ import annotations

import base64
import binascii
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import Engine
from temporalio.client import Client

from complaints.codec import KeyRing, data_converter, read_key_file, write_key_ring
from complaints.codec_server import CodecServer, build_app, staff_directory_check
from complaints.config import Settings


def key_ring(tmp_path: Path) -> tuple[Path, KeyRing]:
    path = tmp_path / "codec-keys.json"
    write_key_ring(path)
    return path, read_key_file(path)


def encrypting_client(client: Client, key_file: Path) -> Client:
    """The test server's client, with the project's converter on this key ring."""
    return Client(**{**client.config(), "data_converter": data_converter(Settings(codec_keys_file=str(key_file)))})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def codec_server(ring: KeyRing, engine: Engine, ui_origin: str) -> AsyncIterator[str]:
    """The codec server on a free port of 127.0.0.1, in this event loop; yields its base URL."""
    runner = web.AppRunner(
        build_app(CodecServer(ring=ring, ui_origin=ui_origin, is_active_staff=staff_directory_check(engine)))
    )
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def texts(value: Any) -> Iterator[str]:
    """Every string in a JSON document, and the UTF-8 text of every one that is base64."""
    if isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)
    elif isinstance(value, str):
        yield value
        try:
            yield base64.b64decode(value, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            pass
