"""The local stack's Lambda stand-in: environments of one function that run at once, in
one process, each see only their own event, as Lambda's environments (one process each) do."""
from __future__ import annotations

import json
import textwrap
from concurrent.futures import ThreadPoolExecutor

from securelogin_local.gateway import FunctionHost
from securelogin_local.template import FunctionSpec

# Powertools keeps the event being resolved where every resolver of the process reads it;
# this handler holds each request until the other has started, then reports what it reads.
HANDLER = textwrap.dedent('''
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.api_gateway import Router

    import both_started

    router = Router()

    @router.post("/v1/echo/<name>")
    def echo(name: str) -> dict:
        both_started.BARRIER.wait()
        event = router.current_event
        return {"path": name, "body": event.json_body["name"],
                "caller": event.request_context.authorizer.raw_event["username"]}

    app = APIGatewayRestResolver()
    app.include_router(router)

    def handler(event, context):
        return app.resolve(event, context)
''')


def event(name: str) -> dict:
    return {"resource": "/v1/echo/{name}", "path": f"/v1/echo/{name}", "httpMethod": "POST",
            "headers": {"content-type": "application/json"}, "multiValueHeaders": {},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": {"name": name}, "stageVariables": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": "/v1/echo/{name}", "httpMethod": "POST", "stage": "local",
                               "requestId": name, "authorizer": {"username": name}},
            "body": json.dumps({"name": name})}


def test_environments_running_at_once_each_see_their_own_event(tmp_path, monkeypatch):
    (tmp_path / "app.py").write_text(HANDLER)
    (tmp_path / "both_started.py").write_text("import threading\nBARRIER = threading.Barrier(2, timeout=10)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    host = FunctionHost(FunctionSpec("Echo", tmp_path, "app.handler", 128, 10), "us-east-1", "123456789012")
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda name: json.loads(host.invoke(event(name))["body"]), ["alice", "bob"]))
    assert answers == [{"path": "alice", "body": "alice", "caller": "alice"},
                       {"path": "bob", "body": "bob", "caller": "bob"}]
