"""Carries a client request's ``X-Local-Fault-Scope`` to the AWS calls made while serving it.

``POST /_local/faults`` may arm a fault with a ``scope``: it then hits only the AWS calls
made for client requests that carried ``X-Local-Fault-Scope: <scope>`` (api.md, "Local
stack only"), so that parallel clients each use up only their own faults. The scope
travels in two steps, both local-stack only:

- the gateway puts the header's value in :data:`CURRENT` (a context variable: each request
  is served in a thread of its own, and the function runs in a copy of that thread's
  context) for as long as it serves the request (:func:`serving`);
- :func:`install` adds a botocore ``before-send`` handler to every botocore session made
  afterwards in the process, which copies :data:`CURRENT`, when set, into the same header
  on each AWS request (every attempt of it); the embedded AWS front reads it there.

Nothing of this is in the layer: the deployed functions never import this module. The
handler reaches every client the service makes (``adapters.aws.client``: a boto3 session
each; PynamoDB's connection: botocore's ``get_session``) through
``botocore.handlers.BUILTIN_HANDLERS``, the list every new botocore ``Session`` registers
(``Session._register_builtin_handlers``). That list is botocore's own, not a documented
API: were it renamed or no longer read by ``Session.__init__``, scoped faults would hit
nothing, which tests/integration/test_local_faults.py shows by failing.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import botocore.handlers

HEADER = "X-Local-Fault-Scope"
# The scope of the client request being served in this context, if it carried one.
CURRENT: ContextVar[str | None] = ContextVar("local_fault_scope", default=None)
EVENT = "before-send"


# What a function invoked by an event source (not by a client request) marks its AWS calls
# with, so that the call log can tell them from the requests' own (GET /_local/aws-calls).
CALLER_HEADER = "X-Local-Caller"
CALLER: ContextVar[str | None] = ContextVar("local_aws_caller", default=None)


@contextlib.contextmanager
def serving(scope: str | None, caller: str | None = None) -> Iterator[None]:
    """The AWS calls made inside carry ``scope`` (none when ``scope`` is None) and, for a
    function invoked by an event source, ``caller``."""
    token, named = CURRENT.set(scope or None), CALLER.set(caller)
    try:
        yield
    finally:
        CURRENT.reset(token)
        CALLER.reset(named)


def add_scope_header(request: Any, **_: Any) -> None:
    """botocore ``before-send``: the AWS request carries the scope of the client request.
    Returns None, so that botocore sends the request."""
    scope, caller = CURRENT.get(), CALLER.get()
    if scope is not None:
        request.headers[HEADER] = scope
    if caller is not None:
        request.headers[CALLER_HEADER] = caller


def install() -> None:
    """Every botocore session made from now on in this process adds the header (sessions
    made earlier do not: the local stack installs it before it makes any client)."""
    if (EVENT, add_scope_header) not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append((EVENT, add_scope_header))
