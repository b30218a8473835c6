#!/usr/bin/env python3
"""An independent check of an EcoSphere carbon statement, written from the published
format only (RFC 8785 canonical JSON, detached JWS with Ed25519 / RFC 8037 keys), with the
`cryptography` package: no code shared with the Rust implementation.

    python verify_statement.py JWKS.json STATEMENT.json

Exit 0 and "valid <kid>" when the signature and the figures' hash hold; exit 1 with the
reason otherwise.
"""
import base64
import datetime
import hashlib
import json
import math
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def es_number(x):
    """ECMAScript Number::toString (RFC 8785 section 3.2.2.3)."""
    if isinstance(x, bool):
        raise TypeError("bool")
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        raise ValueError("not a JSON number")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    m = repr(abs(x))  # shortest round-trip digits, e.g. '123.456', '1e-07', '100.0'
    mant, exp = (m.split("e") if "e" in m else (m, "0"))
    ip, _, fp = mant.partition(".")
    digits = ip + fp
    point = len(ip) + int(exp)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return es_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    jwks = json.load(open(sys.argv[1], encoding="utf-8"))
    doc = json.load(open(sys.argv[2], encoding="utf-8"))
    jws = doc.pop("signature", None)
    if not isinstance(jws, str) or jws.count(".") != 2 or ".." not in jws:
        print("no detached JWS signature")
        return 1
    header_b64, empty, sig_b64 = jws.split(".")
    header = json.loads(b64url_decode(header_b64))
    if header.get("alg") != "EdDSA":
        print("algorithm is not EdDSA")
        return 1
    key = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid") and k.get("kty") == "OKP" and k.get("crv") == "Ed25519"), None)
    if key is None:
        print("unknown or retired key", header.get("kid"))
        return 1
    issued = datetime.datetime.strptime(doc["issued_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    if "exp" in key and issued.timestamp() > key["exp"]:
        print("key expired before the statement was issued")
        return 1
    payload = jcs(doc).encode("utf-8")
    signing_input = (header_b64 + "." + b64url(payload)).encode()
    try:
        Ed25519PublicKey.from_public_bytes(b64url_decode(key["x"])).verify(b64url_decode(sig_b64), signing_input)
    except InvalidSignature:
        print("signature does not match")
        return 1
    if hashlib.sha256(jcs(doc["figures"]).encode("utf-8")).hexdigest() != doc.get("inventory_sha256"):
        print("figures do not match inventory_sha256")
        return 1
    print("valid", key["kid"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
