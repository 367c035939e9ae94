"""The codec server: decrypts payloads for the Temporal Web UI and CLI, for signed-in staff only.

    python -m complaints.codec_server          # `make run` (Procfile) starts it on 127.0.0.1:8234

POST /decode and /encode (also /{namespace}/decode, /{namespace}/encode) take and give
Temporal ``Payloads`` as proto JSON, the Remote Codec protocol of the Web UI and
`temporal --codec-endpoint`. Every one of them needs a staff credential: a sign-in token
made by `complaints codec login-url --as S-…` (HMAC-SHA256 with the key ring's
``login_secret`` over the staff id and expiry), carried either as the cookie that
``GET /login?token=…`` sets (the Web UI, with "include cross-origin credentials") or as
``Authorization: Bearer <token>`` (the CLI's ``--codec-auth``). The staff id must be an active
member of the staff directory (the ``staff`` table). Without one: 401, and nothing is decoded.

Cross-origin access is granted to the Web UI's origin alone (``COMPLAINTS_CODEC_UI_ORIGIN``),
with credentials; a request from any other origin is refused (403) and gets no CORS headers.
Each decode is logged with the staff id and the number of payloads, never a payload.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import hdrs, web
from google.protobuf import json_format
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from temporalio.api.common.v1 import Payloads

from complaints.codec import EncryptionCodec, KeyRing, KeyRingError, load_key_ring
from complaints.config import Settings

log = structlog.get_logger("complaints.codec_server")

COOKIE = "complaints_codec"
TOKEN_PREFIX = "v1"
DEFAULT_LOGIN_MINUTES = 8 * 60
MAX_BODY = 32 * 1024 * 1024  # a whole history's payloads at once (download with decoding)
_STAFF_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
StaffCheck = Callable[[str], Awaitable[bool]]


class CredentialRefused(Exception):
    """Why a credential does not grant access (said in the 401, never with the token)."""


# --- sign-in tokens ------------------------------------------------------------------------


def _mac(secret: bytes, staff_id: str, expires: int) -> str:
    message = f"complaints-codec-login:{TOKEN_PREFIX}:{staff_id}:{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(secret: bytes, staff_id: str, *, minutes: int = DEFAULT_LOGIN_MINUTES, now: float | None = None) -> str:
    """``v1.<staff id>.<expiry, Unix seconds>.<HMAC>``: a bearer credential until it expires."""
    if not secret:
        raise KeyRingError(
            "no sign-in secret: the key ring file has no login_secret and COMPLAINTS_CODEC_LOGIN_SECRET is unset"
        )
    if not _STAFF_ID.match(staff_id):
        raise ValueError(f"staff id {staff_id!r} is not a staff id (S-…)")
    expires = int((time.time() if now is None else now) + minutes * 60)
    return f"{TOKEN_PREFIX}.{staff_id}.{expires}.{_mac(secret, staff_id, expires)}"


def verify_token(secret: bytes, token: str, *, now: float | None = None) -> tuple[str, int]:
    """(staff id, expiry) of a valid, unexpired token; else CredentialRefused with the reason."""
    parts = token.strip().split(".")
    if len(parts) != 4 or parts[0] != TOKEN_PREFIX or not _STAFF_ID.match(parts[1]) or not parts[2].isdigit():
        raise CredentialRefused("malformed sign-in token")
    staff_id, expires = parts[1], int(parts[2])
    if not secret or not hmac.compare_digest(_mac(secret, staff_id, expires), parts[3]):
        raise CredentialRefused("sign-in token not valid (bad signature)")
    if expires <= (time.time() if now is None else now):
        raise CredentialRefused(f"sign-in token of {staff_id} expired; `complaints codec login-url --as {staff_id}`")
    return staff_id, expires


def login_url(settings: Settings, token: str) -> str:
    return f"{settings.codec_url.rstrip('/')}/login?token={token}"


# --- the staff directory -------------------------------------------------------------------


def staff_directory_check(engine: Engine) -> StaffCheck:
    """Whether a staff id is an active member of the staff table (read each time: a leaver is out at once)."""
    from db.tables import Staff

    def lookup(staff_id: str) -> bool:
        with Session(engine) as session:
            member = session.get(Staff, staff_id)
            return member is not None and bool(member.active)

    async def check(staff_id: str) -> bool:
        return await asyncio.to_thread(lookup, staff_id)

    return check


# --- the app -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodecServer:
    ring: KeyRing
    ui_origin: str
    is_active_staff: StaffCheck
    secure_cookie: bool = False

    def cors(self, request: web.Request, response: web.StreamResponse) -> None:
        if request.headers.get(hdrs.ORIGIN) == self.ui_origin:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = self.ui_origin
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = "content-type,x-namespace,authorization"
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
        response.headers[hdrs.VARY] = "Origin"

    async def staff_of(self, request: web.Request) -> str:
        """The signed-in staff id of a request, or CredentialRefused."""
        authorization = request.headers.get(hdrs.AUTHORIZATION, "")
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE, "")
        if not token:
            raise CredentialRefused("no staff credential: sign in at /login (`complaints codec login-url --as S-…`)")
        staff_id, _ = verify_token(self.ring.login_secret, token)
        await self.require_active(staff_id)
        return staff_id

    async def require_active(self, staff_id: str) -> None:
        try:
            active = await self.is_active_staff(staff_id)
        except SQLAlchemyError as err:
            log.error("codec.staff_directory_unreadable", error=str(err).splitlines()[0])
            raise CredentialRefused("the staff directory cannot be read, so no one can be let in") from None
        if not active:
            raise CredentialRefused(f"{staff_id} is not an active member of the staff directory")


def build_app(server: CodecServer) -> web.Application:
    codec = EncryptionCodec(server.ring)

    @web.middleware
    async def origin_and_cors(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin != server.ui_origin:
            # Another origin (a page the browser holds the cookie for): no CORS headers, no work.
            return web.Response(status=403, text=f"origin {origin} is not allowed")
        response = await handler(request)
        server.cors(request, response)
        return response

    async def preflight(request: web.Request) -> web.Response:
        return web.Response(status=204)

    def coder(kind: str, apply: Callable[[Any], Awaitable[list[Any]]]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            namespace = request.match_info.get("namespace") or request.headers.get("X-Namespace", "")
            try:
                staff_id = await server.staff_of(request)
            except CredentialRefused as err:
                log.warning(f"codec.{kind}_refused", reason=str(err), namespace=namespace, remote=request.remote)
                return web.json_response({"error": str(err)}, status=401)
            if request.content_type != "application/json":
                return web.json_response({"error": "send Payloads as application/json"}, status=415)
            try:
                payloads = json_format.Parse(await request.read(), Payloads())
            except json_format.ParseError as err:
                return web.json_response({"error": f"not Payloads JSON: {err}"}, status=400)
            try:
                result = Payloads(payloads=await apply(payloads.payloads))
            except KeyRingError as err:  # a key the ring lacks: name it, decode nothing
                log.error(f"codec.{kind}_failed", staff_id=staff_id, namespace=namespace, error=str(err))
                return web.json_response({"error": str(err)}, status=422)
            log.info(f"codec.{kind}", staff_id=staff_id, namespace=namespace, payloads=len(payloads.payloads))
            return web.Response(text=json_format.MessageToJson(result), content_type="application/json")

        return handle

    async def login(request: web.Request) -> web.Response:
        token = request.query.get("token", "")
        try:
            staff_id, expires = verify_token(server.ring.login_secret, token)
            await server.require_active(staff_id)
        except CredentialRefused as err:
            log.warning("codec.login_refused", reason=str(err), remote=request.remote)
            return web.Response(status=401, text=f"not signed in: {err}")
        until = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
        ui = html.escape(server.ui_origin)
        response = web.Response(
            content_type="text/html",
            text=(
                f"<!doctype html><title>Codec server: signed in</title><p>Signed in as "
                f"<b>{html.escape(staff_id)}</b> until {until}. The Web UI at <a href='{ui}'>{ui}</a> "
                f"now shows payloads decoded (reload its page).</p>"
            ),
        )
        response.set_cookie(
            COOKIE,
            token,
            max_age=max(0, int(expires - time.time())),
            httponly=True,
            samesite="Lax",
            secure=server.secure_cookie,
            path="/",
        )
        log.info("codec.login", staff_id=staff_id, until=until, remote=request.remote)
        return response

    async def logout(request: web.Request) -> web.Response:
        response = web.Response(text="signed out of the codec server")
        response.del_cookie(COOKIE, path="/")
        return response

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "current_key": server.ring.current})

    app = web.Application(middlewares=[origin_and_cors], client_max_size=MAX_BODY)
    decode, encode = coder("decode", codec.decode), coder("encode", codec.encode)
    for prefix in ("", "/{namespace}"):
        app.router.add_post(f"{prefix}/decode", decode)
        app.router.add_post(f"{prefix}/encode", encode)
        app.router.add_route("OPTIONS", f"{prefix}/decode", preflight)
        app.router.add_route("OPTIONS", f"{prefix}/encode", preflight)
    app.router.add_get("/login", login)
    app.router.add_get("/logout", logout)
    app.router.add_get("/health", health)
    return app


def server_from_settings(settings: Settings) -> CodecServer:
    from db.engine import make_engine

    ring = load_key_ring(settings)
    if ring is None:
        raise KeyRingError(
            "no key ring: set COMPLAINTS_CODEC_KEYS_FILE (or COMPLAINTS_CODEC_KEYS), "
            "or `complaints codec init` to make .data/codec-keys.json"
        )
    if not ring.login_secret:
        raise KeyRingError(
            f"the key ring ({ring.source}) has no login_secret and COMPLAINTS_CODEC_LOGIN_SECRET is unset"
        )
    return CodecServer(
        ring=ring,
        ui_origin=settings.codec_ui_origin.rstrip("/"),
        is_active_staff=staff_directory_check(make_engine(settings.database_url)),
        secure_cookie=settings.codec_url.startswith("https://"),
    )


def main() -> None:
    from complaints.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    if load_key_ring(settings) is None:
        # Encryption is off: nothing to decode. Stay up idle, since honcho (`make run`) stops
        # every process when one exits.
        log.warning("codec.off", reason="no key ring configured (COMPLAINTS_CODEC_KEYS_FILE=none?); not serving")
        while True:
            time.sleep(3600)
    server = server_from_settings(settings)
    host, _, port = settings.codec_address.rpartition(":")
    log.info(
        "codec.start",
        listen=settings.codec_address,
        url=settings.codec_url,
        ui_origin=server.ui_origin,
        current_key=server.ring.current,
        key_ring=server.ring.source,
        sign_in="complaints codec login-url --as S-MGR-001",
    )
    web.run_app(build_app(server), host=host or "127.0.0.1", port=int(port), print=None, access_log=None)


if __name__ == "__main__":
    main()
