"""Second factors: one class per device type, chosen through ``registry``.

The challenge lifecycle every factor follows:

1. ``issue(device, method, context)`` makes a challenge: what the client is shown
   (``public``), what the server keeps to check the answer (``check_data``, digests or
   nothing secret), when it expires, and an optional message to deliver (SMS, voice).
   It performs no I/O; the flow engine stores the challenge, then delivers.
2. ``check(device, challenge, response, context)`` says whether a response answers it.
   It is pure too; counting attempts, locks and single use belong to the service.
"""
from securelogin.domain.factors.base import ChallengeContext, Factor, IssuedChallenge, UnsupportedMethod
from securelogin.domain.factors.registry import FactorRegistry

__all__ = ["ChallengeContext", "Factor", "FactorRegistry", "IssuedChallenge", "UnsupportedMethod"]
