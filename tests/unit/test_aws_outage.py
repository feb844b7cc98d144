"""Which AWS failures are outages (503, send again) and which are faults of ours (500)."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from pynamodb.exceptions import CancellationReason, GetError, PutError, TransactWriteError, VerboseClientError

from securelogin.adapters.aws import is_outage
from securelogin.api.errors import domain_error_response
from securelogin.errors import aws_unavailable


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "GetItem")


@pytest.mark.parametrize("code", ["InternalServerError", "ThrottlingException", "ServiceUnavailable",
                                  "ProvisionedThroughputExceededException", "RequestLimitExceeded"])
def test_a_failing_or_throttling_service_is_an_outage(code):
    assert is_outage(client_error(code))


@pytest.mark.parametrize("code", ["ValidationException", "AccessDeniedException", "ResourceNotFoundException",
                                  "ConditionalCheckFailedException"])
def test_a_refused_request_is_ours_to_fix(code):
    assert not is_outage(client_error(code))


def test_any_5xx_is_an_outage_whatever_its_code():
    assert is_outage(client_error("SomethingNew", status=502))


@pytest.mark.parametrize("error", [ReadTimeoutError(endpoint_url="http://x"), ConnectTimeoutError(endpoint_url="x"),
                                   EndpointConnectionError(endpoint_url="http://x")])
def test_timeouts_and_lost_connections_are_outages(error):
    assert is_outage(error)


def test_pynamodb_wrapping_is_seen_through():
    assert is_outage(GetError("failed", client_error("InternalServerError")))
    assert is_outage(PutError("failed", ReadTimeoutError(endpoint_url="http://x")))
    assert not is_outage(PutError("failed", client_error("ValidationException")))


def cancelled(*codes: str) -> TransactWriteError:
    reasons = [CancellationReason(code=c) if c != "None" else None for c in codes]
    cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"}},
                               "TransactWriteItems", cancellation_reasons=reasons)
    return TransactWriteError("cancelled", cause)


def test_a_transaction_cancelled_for_throughput_is_an_outage_and_for_a_condition_is_not():
    assert is_outage(cancelled("None", "ThrottlingError"))
    assert not is_outage(cancelled("ConditionalCheckFailed", "None"))


def test_an_outage_answers_503_with_retry_after_in_the_error_shape():
    response = domain_error_response(aws_unavailable())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert '"code": "service_unavailable"' in response.body


def test_a_plain_error_is_not_an_outage():
    assert not is_outage(ValueError("bug"))
