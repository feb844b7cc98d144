"""``make bench``: what the service costs on this machine, with the embedded AWS kept apart,
against the project's targets. ``python -m securelogin_local.bench --help``.

- ``inprocess``: the service's CPU per request (handlers in this process, embedded AWS in
  another), AWS calls per request, where a verify's CPU goes, and a verify's AWS calls
  timed on a fresh and on a filled table;
- ``load``: latency, throughput and AWS calls per verify at 1, 4 and 16 clients against a
  running local stack, with 0, 10,000 and 100,000 extra items, and the stack's memory;
- ``coldstart``: each function's cold start on the ``sam build`` artifact, against
  ``import boto3``;
- ``peer``: privacyIDEA side by side, and the 20,000-item scale check (../shared/peer);
- ``stats`` and ``report``: the pure parts (summaries, targets, the Markdown report).
"""
