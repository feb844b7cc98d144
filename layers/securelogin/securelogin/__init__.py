"""Secure Login System: the domain package shipped as the Lambda layer.

Layers, outermost first: ``api`` (HTTP only) -> ``services`` (the flows) -> ``domain``
(models, factors) and ``crypto`` (pure functions); ``adapters`` is the only code that
talks to DynamoDB, KMS, SNS and the voice API.
"""
