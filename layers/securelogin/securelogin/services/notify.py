"""Security notices to a user by SMS: recorded in the transaction of the change they tell
of, sent after it commits (services/outbox.py): by the request itself when it can, else by
the consumer of the table's stream."""
from __future__ import annotations

from securelogin.clock import Clock
from securelogin.domain.models import Channel, OutgoingMessage, User
from securelogin.policy import Policy
from securelogin.ports import Completing, OutboxStore, UserStore, together
from securelogin.services.outbox import request_sending


class Notifier:
    """Tells a user by SMS to their first phone about a change to their security. A notice
    is a write of the change's own transaction: a change that commits is told, whatever SNS
    does at that moment, and one that does not is never told."""

    def __init__(self, outbox: OutboxStore, users: UserStore, clock: Clock, policy: Policy) -> None:
        self._outbox = outbox
        self._users = users
        self._clock = clock
        self._policy = policy

    def notice(self, user: User, text: str) -> Completing:
        """The notice, to be written by the transaction of the change it tells of."""
        if not user.phones:
            return together()
        message = OutgoingMessage(channel=Channel.SMS, to=user.phones[0], body=f"IBKR: {text}")
        committed = request_sending()
        if committed is None:
            return self._outbox.writes(user.username, message, self._clock.now(), self._policy.outbox_retention)
        return self._outbox.writes(user.username, message, self._clock.now(), self._policy.outbox_retention,
                                   held_for=self._policy.outbox_hold,
                                   committed=lambda outbox_id: committed.append((outbox_id, message)))

    def notice_to(self, username: str, text: str) -> Completing:
        """Like ``notice``, for a caller that has the username but not the user."""
        user = self._users.get_user(username)
        return self.notice(user, text) if user is not None else together()
