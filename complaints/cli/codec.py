"""`complaints codec`: the payload encryption's key ring and the codec server's sign-in.

``init`` makes a key ring file (one random AES-256 key and a sign-in secret, mode 0600);
``rotate`` adds a new key and makes it current (the old ones stay, so old histories still
decode); ``login-url --as S-…`` prints the link that signs a staff member in to the codec
server (and the token for `temporal --codec-auth "Bearer …"`). No Temporal needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from complaints.cli.common import EXIT_USAGE, As, CliError, err, out, require_staff
from complaints.codec import (
    DEFAULT_KEYS_FILE,
    DISABLED,
    KeyRingError,
    key_ring_file,
    load_key_ring,
    rotate_key_ring,
    write_key_ring,
)
from complaints.codec_server import DEFAULT_LOGIN_MINUTES, login_url, make_token
from complaints.config import Settings
from complaints.temporal import exit_process

codec_app = typer.Typer(
    help="Payload encryption: the key ring (init, rotate) and signing staff in to the codec server.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

KeyFile = Annotated[
    Path | None,
    typer.Option("--file", help="The key ring file (default: COMPLAINTS_CODEC_KEYS_FILE, else .data/codec-keys.json)."),
]


def _file(given: Path | None) -> Path:
    return given or key_ring_file(Settings()) or DEFAULT_KEYS_FILE


@codec_app.command("init")
def init(
    file: KeyFile = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Leave an existing file as it is (make run).")
    ] = False,
) -> None:
    """Make a key ring file: one random key (k1), current, and the sign-in secret."""
    settings = Settings()
    if file is None and (settings.codec_keys or settings.codec_keys_file.lower() in DISABLED):
        out.print("nothing to do: the key ring comes from COMPLAINTS_CODEC_KEYS, or COMPLAINTS_CODEC_KEYS_FILE is none")
        exit_process(0)
    path = _file(file)
    code = 0
    try:
        existed = path.exists()
        ring = write_key_ring(path, if_missing=if_missing)
        out.print(
            f"{'kept' if existed else 'created'} {path} (current key {ring.current}; keys {', '.join(ring.keys)})"
        )
    except KeyRingError as e:
        err.print(f"error: {e}")
        code = EXIT_USAGE
    exit_process(code)


@codec_app.command("rotate")
def rotate(file: KeyFile = None) -> None:
    """Add a new random key and make it current; the old keys stay so old payloads still decode.

    Restart the worker, the codec server and every client after it (they read the ring at start).
    """
    path = _file(file)
    code = 0
    try:
        ring = rotate_key_ring(path)
        out.print(f"rotated {path}: current key {ring.current}; keys {', '.join(ring.keys)}")
    except KeyRingError as e:
        err.print(f"error: {e}")
        code = EXIT_USAGE
    exit_process(code)


@codec_app.command("login-url")
def login(
    staff_id: As,
    minutes: Annotated[int, typer.Option("--minutes", min=1, max=7 * 24 * 60, help="How long it lasts.")] = (
        DEFAULT_LOGIN_MINUTES
    ),
    token_only: Annotated[bool, typer.Option("--token", help="Print only the token (for --codec-auth).")] = False,
) -> None:
    """Print the link that signs STAFF in to the codec server (open it in the Web UI's browser)."""
    settings = Settings()
    code = 0
    try:
        require_staff(settings, staff_id)
        ring = load_key_ring(settings)
        if ring is None:
            raise CliError("no key ring: `complaints codec init` (make run does it)", EXIT_USAGE)
        token = make_token(ring.login_secret, staff_id, minutes=minutes)
        if token_only:
            out.print(token)
        else:
            out.print(login_url(settings, token))
            out.print(
                f'CLI: temporal workflow show -w … --codec-endpoint {settings.codec_url} --codec-auth "Bearer {token}"'
            )
    except (CliError, KeyRingError, ValueError) as e:
        err.print(f"error: {e}")
        code = e.code if isinstance(e, CliError) else EXIT_USAGE
    exit_process(code)
