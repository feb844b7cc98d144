"""The bench's other pure parts: how many verifies a round makes, the filler's copies, how an
AWS call is named, whose code a profiled function is, and the report from partial results."""
from securelogin_local.bench import report
from securelogin_local.bench.filler import _identifiers, copy_of
from securelogin_local.bench.inprocess import describe, package_of
from securelogin_local.bench.load import verifies_per_client


def test_a_round_makes_about_the_total_and_at_least_the_minimum_per_client():
    assert verifies_per_client(1, total=48, per_client_min=6, one_verify_s=None, budget_s=60) == 48
    assert verifies_per_client(4, total=48, per_client_min=6, one_verify_s=None, budget_s=60) == 12
    assert verifies_per_client(16, total=48, per_client_min=6, one_verify_s=None, budget_s=60) == 6


def test_a_round_fits_its_budget_as_if_verifies_went_one_at_a_time():
    assert verifies_per_client(4, total=48, per_client_min=6, one_verify_s=2.0, budget_s=60) == 7
    assert verifies_per_client(16, total=48, per_client_min=6, one_verify_s=2.0, budget_s=60) == 1
    assert verifies_per_client(16, total=48, per_client_min=6, one_verify_s=5.0, budget_s=60) == 0  # skipped


def test_a_filler_copy_is_another_users_item():
    template = [
        {"pk": {"S": "USER#alice"}, "sk": {"S": "PROFILE"}, "gsi1pk": {"S": "ACCOUNT#U123"},
         "gsi1sk": {"S": "USER#alice"}, "name": {"S": "alice's profile"}},
        {"pk": {"S": "USER#alice"}, "sk": {"S": "DEVICE#d-1"}, "gsi1pk": {"S": "DEVICE#d-1"},
         "gsi1sk": {"S": "DEVICE"}},
        {"pk": {"S": "AUDIT#alice"}, "sk": {"S": "2026-01-01T00:00:00Z#ab"}},
    ]
    identifiers = _identifiers(template, "alice")
    assert set(identifiers) == {"alice", "U123", "d-1"}
    profile, device, audit = (copy_of(item, identifiers, 7) for item in template)
    assert profile["pk"] == {"S": "USER#alice~7"} and profile["gsi1pk"] == {"S": "ACCOUNT#U123~7"}
    assert profile["name"] == {"S": "alice's profile"}  # only keys change
    assert device["sk"] == device["gsi1pk"] == {"S": "DEVICE#d-1~7"}
    assert audit["pk"] == {"S": "AUDIT#alice~7"} and audit["sk"] == template[2]["sk"]
    assert template[0]["pk"] == {"S": "USER#alice"}  # the template is left as it was


def test_aws_calls_are_named_as_the_embedded_aws_logs_them():
    auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host"
    assert describe({"Authorization": auth, "X-Amz-Target": b"DynamoDB_20120810.GetItem"}, b"{}") == \
        ("dynamodb", "GetItem")
    sns = auth.replace("/dynamodb/", "/sns/")
    assert describe({"Authorization": sns}, b"Action=Publish&Version=2010-03-31") == ("sns", "Publish")
    assert describe({}, None) == ("unknown", "unknown")


def test_profiled_code_is_counted_to_its_package():
    assert package_of("/x/.venv/lib/python3.12/site-packages/botocore/auth.py") == "botocore"
    assert package_of("/x/.venv/lib/python3.12/site-packages/six.py") == "six"
    assert package_of("/work/main/layers/securelogin/securelogin/services/login.py") == "securelogin (the service)"
    assert package_of("/root/.pyenv/versions/3.12.1/lib/python3.12/http/client.py") == "stdlib http"
    assert package_of("/root/.pyenv/versions/3.12.1/lib/python3.12/json/decoder.py") == "stdlib json"
    assert package_of("~") == "built-ins (C)"


def test_the_report_says_what_was_not_measured():
    text = report.render({"meta": {"date": "today"}, "coldstart": {"error": "the SAM CLI is not installed"},
                          "side_by_side": {"error": "peer not set up: run run_peer.sh once"}})
    assert "| Service CPU per verify" in text and "not measured: the in-process run was not run" in text
    assert "not measured: peer not set up: run run_peer.sh once" in text
    assert "not measured: the SAM CLI is not installed" in text
    assert "## How to read it" in text


def test_the_cpu_target_reads_the_verify_and_explains_a_miss():
    verify = {"name": report.VERIFY, "cpu_ms": {"mean": 12.0, "p50": 11.0, "p95": 14.0},
              "wall_ms": {"mean": 50.0, "p50": 48.0, "p95": 60.0}, "aws_calls": 3.0, "calls": "dynamodb GetItem"}
    results = {"inprocess": {"requests": [verify], "verify_cpu_by_package": [{"package": "botocore", "share": 40.0}],
                             "aws_cpu_ms_per_call": 5.0}}
    target = report.cpu_target(results)
    assert (target.measured, target.met) == (12.0, False)
    assert "3 AWS calls per verify" in target.why and "botocore 40%" in target.why
