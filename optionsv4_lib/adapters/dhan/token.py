"""Dhan access tokens: their expiry, and renewal by TOTP where the account allows it.

Dhan's access tokens are JWTs that last at most 24 hours (the `exp` claim, seconds since the epoch). An unattended
run checks the token before its first request: a token valid for at least `min_validity` is used as it is; else,
with a PIN and a TOTP secret configured (the Airflow connection's extras `pin` and `totp_secret`, or
OPTIONSV4_DHAN_PIN / OPTIONSV4_DHAN_TOTP_SECRET), a new one is generated through
`POST {auth_url}/app/generateAccessToken?dhanClientId=…&pin=…&totp=…` (answer: accessToken, expiryTime) and kept in
a private cache file (mode 0600) that every task process of the day reads; without them the run fails at once with
AuthError naming the expiry and what to do — never a retry storm on DH-901.

The PIN, the TOTP secret, the one-time code and the tokens are never logged or put in a message.
"""

import base64
import hashlib
import hmac
import json
import logging
import os
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from optionsv4_lib.core.errors import AuthError, BrokerError, InputError

log = logging.getLogger(__name__)

AUTH_URL = "https://auth.dhan.co"
MIN_VALIDITY = timedelta(hours=1)  # a token must stay valid this long after the check to be used as it is
TOKEN_CACHE = ".dhan_token.json"  # under the data dir, mode 0600
TOTP_STEP, TOTP_DIGITS = 30, 6  # RFC 6238 as authenticator apps use it: SHA-1, 30 s, 6 digits


@dataclass(frozen=True)
class DhanCredentials:
    """What a Dhan client needs, and until when the token is good (None: the token does not say)."""

    client_id: str
    access_token: str
    expires_at: datetime | None

    def __repr__(self) -> str:  # the token never reaches a log or a traceback through repr
        return f"DhanCredentials(client_id={self.client_id!r}, expires_at={self.expires_at})"


def token_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT access token as an aware UTC datetime; None when the token is not a readable JWT
    (the signature is not checked: Dhan does that)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(float(payload["exp"]), tz=timezone.utc)
    except (ValueError, KeyError, TypeError):
        return None


def totp(secret: str, at: datetime) -> str:
    """The RFC 6238 one-time code of a base32 secret at a moment (SHA-1, 30-second steps, 6 digits)."""
    try:
        key = base64.b32decode(secret.replace(" ", "").upper() + "=" * (-len(secret.replace(" ", "")) % 8))
    except (ValueError, base64.binascii.Error) as exc:
        raise InputError("dhan_totp_secret: not a base32 TOTP secret") from exc
    counter = int(at.timestamp()) // TOTP_STEP
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 10**TOTP_DIGITS
    return f"{code:0{TOTP_DIGITS}d}"


def generate_access_token(client_id: str, pin: str, totp_secret: str, *, now: datetime, auth_url: str = AUTH_URL,
                          timeout: float = 10.0) -> DhanCredentials:
    """A new access token from Dhan's auth host (TOTP flow). AuthError when Dhan refuses (wrong PIN or secret, TOTP
    not enabled); BrokerError when the host cannot be reached or answers nonsense."""
    params = {"dhanClientId": client_id, "pin": pin, "totp": totp(totp_secret, now)}
    try:
        answer = requests.post(f"{auth_url.rstrip('/')}/app/generateAccessToken", params=params, timeout=timeout)
    except requests.RequestException as exc:  # its text holds the URL with the PIN and code: never chained
        raise BrokerError(f"Dhan auth host {auth_url} unreachable ({type(exc).__name__}): no new access token") \
            from None
    try:
        body = answer.json()
    except ValueError:
        body = {}
    token = body.get("accessToken") if isinstance(body, dict) else None
    if answer.status_code != 200 or not token:
        reason = (body.get("message") or body.get("errorMessage") or "") if isinstance(body, dict) else ""
        raise AuthError(f"Dhan refused to generate an access token (HTTP {answer.status_code}"
                        f"{': ' + str(reason)[:200] if reason else ''}); check the client id, PIN and TOTP secret")
    return DhanCredentials(client_id, token, token_expiry(token) or _parse_expiry(body.get("expiryTime")))


def fresh_credentials(client_id: str | None, access_token: str | None, *, pin: str | None, totp_secret: str | None,
                      now: datetime, cache: Path | None = None, auth_url: str = AUTH_URL,
                      min_validity: timedelta = MIN_VALIDITY) -> DhanCredentials:
    """Credentials good for at least `min_validity` from `now`: the configured token, else a cached renewed one,
    else a newly generated one (when a PIN and TOTP secret are set; written to `cache`). AuthError naming the expiry
    and the remedy otherwise; InputError when no client id is configured."""
    if not client_id:
        raise InputError("dhan_client_id: Dhan credentials are not configured (set DHAN_CLIENT_ID and "
                         "DHAN_ACCESS_TOKEN, or OPTIONSV4_DHAN_CLIENT_ID and OPTIONSV4_DHAN_ACCESS_TOKEN)")
    need = now + min_validity
    configured = DhanCredentials(client_id, access_token, token_expiry(access_token)) if access_token else None
    if configured and (configured.expires_at is None or configured.expires_at >= need):
        return configured
    cached = _read_cache(cache, client_id)
    if cached and cached.expires_at and cached.expires_at >= need:
        return cached
    if pin and totp_secret:
        renewed = generate_access_token(client_id, pin, totp_secret, now=now, auth_url=auth_url)
        _write_cache(cache, renewed)
        log.info("Dhan access token renewed by TOTP; valid until %s", renewed.expires_at)
        return renewed
    if configured is None:
        raise AuthError("Dhan access token not configured and no TOTP secret to generate one: set DHAN_ACCESS_TOKEN, "
                        "or add pin and totp_secret to the Dhan connection's extras")
    state = "expired" if configured.expires_at <= now else "expires"
    raise AuthError(f"Dhan access token {state} at {configured.expires_at:%Y-%m-%d %H:%M} UTC, before this run can "
                    f"finish; renew it or add a TOTP secret (pin and totp_secret in the Dhan connection's extras)")


def settings_credentials(settings, *, now: datetime | None = None) -> DhanCredentials:
    """fresh_credentials for config.Settings (dhan_* fields); the renewed token is cached in the data dir."""
    return fresh_credentials(
        settings.dhan_client_id, _revealed(settings.dhan_access_token), pin=_revealed(settings.dhan_pin),
        totp_secret=_revealed(settings.dhan_totp_secret), now=now or datetime.now(timezone.utc),
        cache=Path(settings.data_dir) / TOKEN_CACHE, auth_url=settings.dhan_auth_url)


def _revealed(secret) -> str | None:
    return None if secret is None else secret.get_secret_value()


def _parse_expiry(text) -> datetime | None:
    """Dhan's expiryTime ('2026-12-08T09:00:00.000' IST, or with an offset) as aware UTC; None if unreadable."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone(timedelta(hours=5, minutes=30)))
    return moment.astimezone(timezone.utc)


def _read_cache(cache: Path | None, client_id: str) -> DhanCredentials | None:
    if cache is None or not cache.is_file():
        return None
    try:
        stored = json.loads(cache.read_text())
        token = stored["access_token"] if stored.get("client_id") == client_id else None
    except (OSError, ValueError, KeyError):
        return None
    return DhanCredentials(client_id, token, token_expiry(token) or _parse_expiry(stored.get("expires_at"))) \
        if token else None


def _write_cache(cache: Path | None, credentials: DhanCredentials) -> None:
    """Write the renewed token readable by this user only (created 0600, replaced atomically)."""
    if cache is None:
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"client_id": credentials.client_id, "access_token": credentials.access_token,
                   "expires_at": credentials.expires_at.isoformat() if credentials.expires_at else None}, handle)
    tmp.replace(cache)
