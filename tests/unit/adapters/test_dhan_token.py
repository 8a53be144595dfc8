"""Dhan access tokens: RFC 6238 one-time codes, the JWT expiry, and when a token is used, renewed or refused."""

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from optionsv4_lib.adapters.dhan.token import DhanCredentials, fresh_credentials, token_expiry, totp
from optionsv4_lib.core.errors import AuthError, InputError

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238 appendix B, SHA-1 seed
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)  # 08:30 IST


def jwt(expiry: datetime) -> str:
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'HS512'})}.{part({'dhanClientId': '1000000001', 'exp': int(expiry.timestamp())})}.sig"


@pytest.mark.parametrize("epoch, code", [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"),
                                         (1234567890, "005924"), (2000000000, "279037"), (20000000000, "353130")])
def test_totp_matches_rfc_6238_test_vectors(epoch, code):
    # RFC 6238 appendix B (SHA-1) lists 8-digit codes; authenticators use their last 6 digits.
    assert totp(RFC_SECRET, datetime.fromtimestamp(epoch, tz=timezone.utc)) == code


def test_a_secret_that_is_not_base32_is_named_without_being_shown():
    with pytest.raises(InputError, match="dhan_totp_secret: not a base32 TOTP secret") as caught:
        totp("not base32!!", NOW)
    assert "not base32!!" not in str(caught.value)


def test_the_expiry_is_the_jwt_exp_claim():
    assert token_expiry(jwt(NOW + timedelta(hours=5))) == NOW + timedelta(hours=5)
    assert token_expiry("opaque-token") is None and token_expiry("a.b.c") is None


def test_a_token_good_for_the_run_is_used_as_it_is():
    token = jwt(NOW + timedelta(hours=20))
    got = fresh_credentials("1000000001", token, pin=None, totp_secret=None, now=NOW)
    assert got == DhanCredentials("1000000001", token, NOW + timedelta(hours=20))
    assert token not in repr(got)


def test_an_expiring_token_without_a_totp_secret_fails_naming_the_expiry_and_the_remedy(tmp_path):
    token = jwt(NOW + timedelta(minutes=20))
    with pytest.raises(AuthError) as caught:
        fresh_credentials("1000000001", token, pin=None, totp_secret=None, now=NOW, cache=tmp_path / "t.json")
    message = str(caught.value)
    assert message == ("Dhan access token expires at 2026-12-07 03:20 UTC, before this run can finish; renew it or "
                       "add a TOTP secret (pin and totp_secret in the Dhan connection's extras)")
    assert token not in message
    with pytest.raises(AuthError, match="Dhan access token expired at 2026-12-07 02:00 UTC"):
        fresh_credentials("1000000001", jwt(NOW - timedelta(hours=1)), pin=None, totp_secret=None, now=NOW)


def test_a_renewed_token_in_the_cache_is_used_by_the_next_process(tmp_path):
    cache = tmp_path / "token.json"
    cache.write_text(json.dumps({"client_id": "1000000001", "access_token": jwt(NOW + timedelta(hours=23))}))
    got = fresh_credentials("1000000001", jwt(NOW - timedelta(hours=1)), pin=None, totp_secret=None, now=NOW,
                            cache=cache)
    assert got.expires_at == NOW + timedelta(hours=23)
    with pytest.raises(AuthError):  # another account's cache is not used
        fresh_credentials("1000000002", jwt(NOW - timedelta(hours=1)), pin=None, totp_secret=None, now=NOW,
                          cache=cache)
