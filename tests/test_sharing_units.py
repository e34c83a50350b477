"""Readable ids, tokens, rate limits, secrets and notebook validation, in isolation."""

from __future__ import annotations

import os
import re

import jwt
import pytest

from kiosk.errors import BadRequest, PayloadTooLarge, TooManyRequests, Unauthorized, Unprocessable
from kiosk.ratelimit import SlidingWindowLimiter
from kiosk.secrets import load_or_create_secret
from kiosk.sharing import ids
from kiosk.sharing.tokens import TokenService, bearer_token
from kiosk.sharing.validate import parse_post_body, parse_put_body, split_object
from tests.sharing_helpers import UUID_RE, make_notebook


def test_readable_id_space_and_shape():
    assert ids.ID_SPACE >= 2**30
    assert len(set(ids.ADJECTIVES)) == len(ids.ADJECTIVES)
    assert len(set(ids.AQUATIC_ANIMALS)) == len(ids.AQUATIC_ANIMALS)
    assert all(re.fullmatch("[a-z]+", w) for w in ids.ADJECTIVES + ids.AQUATIC_ANIMALS)
    drawn = {ids.new_readable_id() for _ in range(2000)}
    assert len(drawn) >= 1995  # a collision or two is possible, and fine
    for rid in drawn:
        assert ids.looks_like_readable_id(rid)
        assert not UUID_RE.match(rid) and ids.parse_uuid(rid) is None
        assert len(rid) <= 40
        first, second, animal, _number = rid.split("-")
        assert first != second and animal in ids.AQUATIC_ANIMALS


def test_readable_id_normalize():
    assert ids.normalize("  Brave-Sunny-Otter-482.IPYNB ") == "brave-sunny-otter-482"
    assert ids.normalize("brave-sunny-otter-482 .ipynb") == "brave-sunny-otter-482"
    assert ids.parse_uuid("1B4E28BA-2FA1-11D2-883F-0016D3CCA427") == \
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def test_tokens_roundtrip_and_rejections():
    svc = TokenService("k" * 43, 3600)
    token = svc.issue(notebook_id="nb")
    claims = svc.verify(token)
    assert claims.notebook_id == "nb" and claims.expires_at - claims.issued_at == 3600
    with pytest.raises(Unauthorized, match="expired"):
        svc.verify(svc.issue(now=1000))
    with pytest.raises(Unauthorized):
        TokenService("other" * 9, 3600).verify(token)
    raw = jwt.decode(token, options={"verify_signature": False})
    with pytest.raises(Unauthorized):
        svc.verify(jwt.encode(raw, None, algorithm="none"))
    with pytest.raises(Unauthorized):  # a token without session_id
        svc.verify(jwt.encode({"iat": 1, "exp": 2**40}, "k" * 43, algorithm="HS256"))
    with pytest.raises(Unauthorized):
        bearer_token(None)
    with pytest.raises(Unauthorized):
        bearer_token("Basic abc")
    assert bearer_token("bearer  abc ") == "abc"


def test_rate_limiter_sliding_window():
    now = [0.0]
    lim = SlidingWindowLimiter(3, window=60, clock=lambda: now[0])
    for _ in range(3):
        lim.hit("a")
    lim.hit("b")
    with pytest.raises(TooManyRequests) as err:
        lim.hit("a")
    assert err.value.headers["Retry-After"] == "60"
    now[0] = 30
    with pytest.raises(TooManyRequests) as err:
        lim.hit("a")
    assert err.value.retry_after == 30
    now[0] = 60.5
    lim.hit("a")
    now[0] = 10_000
    for i in range(2048):  # sweeps forget keys idle for a whole window
        now[0] += 1
        lim.hit(f"k{i}")
    assert len(lim) < 1100


def test_secret_created_once_with_mode_0600(tmp_path):
    path = tmp_path / "sub" / "admin-secret"
    first = load_or_create_secret(path)
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == first
    os.chmod(path, 0o644)
    assert load_or_create_secret(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_split_object_keeps_member_text():
    members = split_object(' { "a" : [1, 2 ] ,"b":{"c":"d\\u00e9"} } ')
    assert members["a"] == ([1, 2], "[1, 2 ]")
    assert members["b"] == ({"c": "dé"}, '{"c":"d\\u00e9"}')
    for bad in ("[1]", "{", '{"a" 1}', '{"a": 1} x', '{"a": NaN}', "{1: 2}"):
        with pytest.raises(BadRequest):
            split_object(bad)


def test_validation_errors_say_what_is_wrong():
    import json
    nb = make_notebook()
    body = json.dumps({"notebook": nb}).encode()
    parsed = parse_post_body(body, 10 * 1024 * 1024)
    assert parsed.notebook.data == nb and parsed.notebook.name == "My notebook"
    del nb["cells"][0]["cell_type"]
    with pytest.raises(Unprocessable, match="cells"):
        parse_post_body(json.dumps({"notebook": nb}).encode(), 10**7)
    with pytest.raises(BadRequest, match="cells"):
        parse_put_body(json.dumps(nb).encode(), 10**7)
    with pytest.raises(PayloadTooLarge):
        parse_put_body(json.dumps(make_notebook(pad_bytes=2000)).encode(), 1000)
    with pytest.raises(BadRequest, match="password"):
        parse_post_body(json.dumps({"notebook": make_notebook(), "password": 5}).encode(),
                        10**7)


def test_short_identifier_reads_back_at_its_own_length(tmp_path):
    # The mDNS kiosk-id is 9 random bytes (12 characters): a second start must read it.
    path = tmp_path / "kiosk-id"
    first = load_or_create_secret(path, nbytes=9)
    assert len(first) == 12
    assert load_or_create_secret(path, nbytes=9) == first


def test_truncated_secret_is_refused_with_a_clear_error(tmp_path):
    from kiosk.errors import StartupError

    path = tmp_path / "admin-secret"
    path.write_text("short\n")
    os.chmod(path, 0o600)
    with pytest.raises(StartupError, match="too short"):
        load_or_create_secret(path)
