"""Secure Login System: the domain package shipped as the Lambda layer.

Layers, outermost first: ``api`` (HTTP only) -> ``services`` (the flows) -> ``ports``
(what the services need from outside, as Protocols) -> ``domain`` (models, factors) and
``crypto`` (pure functions). ``adapters`` implements the ports and is the only code that
talks to DynamoDB, KMS, SNS and the voice API; ``runtime`` wires them together.
"""
