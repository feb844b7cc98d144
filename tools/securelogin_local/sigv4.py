"""Checks AWS Signature Version 4 on admin requests, as API Gateway's AWS_IAM auth does.

The local stack knows one identity: access key ``testing``, secret ``testing``."""
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LOCAL_CREDENTIALS = Credentials("testing", "testing")
LOCAL_USER_ARN = "arn:aws:iam::123456789012:user/testing"
MAX_SKEW = timedelta(minutes=15)

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})")


def check(method: str, url: str, headers: dict[str, str], body: bytes, region: str = "us-east-1",
          credentials: Credentials = LOCAL_CREDENTIALS, now: datetime | None = None) -> str | None:
    """None when the request is signed by ``credentials``; otherwise the API Gateway
    response type that refuses it (``MISSING_AUTHENTICATION_TOKEN``, ``INVALID_SIGNATURE``,
    ``EXPIRED_TOKEN``). ``headers`` have lower-case names."""
    header = headers.get("authorization", "")
    if not header:
        return "MISSING_AUTHENTICATION_TOKEN"
    parsed = _AUTHORIZATION.fullmatch(header.strip())
    if not parsed or parsed["key"] != credentials.access_key or parsed["service"] != "execute-api" \
            or parsed["region"] != region:
        return "INVALID_SIGNATURE"
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "INVALID_SIGNATURE"
    if abs((now or datetime.now(UTC)) - signed_at) > MAX_SKEW:
        return "EXPIRED_TOKEN"
    if amz_date[:8] != parsed["date"]:
        return "INVALID_SIGNATURE"
    declared_hash = headers.get("x-amz-content-sha256")
    if declared_hash and declared_hash != hashlib.sha256(body).hexdigest():
        return "INVALID_SIGNATURE"

    signed_names = parsed["signed"].split(";")
    if "host" not in signed_names or any(name not in headers for name in signed_names):
        return "INVALID_SIGNATURE"
    request = AWSRequest(method=method, url=url, data=body, headers={n: headers[n] for n in signed_names})
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(credentials, "execute-api", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return None if hmac.compare_digest(expected, parsed["signature"]) else "INVALID_SIGNATURE"
