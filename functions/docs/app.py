"""The API's OpenAPI document (``GET /openapi.json``, no authentication), assembled from the
routes of every function beside this one: this function's code is the whole ``functions/``
directory, so the document served is the code deployed with it."""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin.api.http import lambda_entry, make_resolver
from securelogin.api.openapi import functions_document

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent

docs = Router()


@cache
def document() -> dict[str, Any]:
    return functions_document(FUNCTIONS_DIR)


@docs.get("/openapi.json", include_in_schema=False, cache_control="max-age=300")
def openapi_document():  # the document itself: not described in it
    return Response(status_code=200, content_type="application/json", body=document())


app = make_resolver(docs)
lambda_handler = lambda_entry(app)
