"""Security notices to a user by SMS, sent after a change and never undoing it."""
from __future__ import annotations

from securelogin.domain.models import Channel, OutgoingMessage, User
from securelogin.logs import logger
from securelogin.ports import DeliveryFailed, MessageSender, UserStore


class Notifier:
    """Tells a user by SMS to their first phone about a change to their security.
    Best effort: a notice that cannot be sent is logged and does not undo the change."""

    def __init__(self, sender: MessageSender, users: UserStore) -> None:
        self._sender = sender
        self._users = users

    def tell_username(self, username: str, text: str) -> None:
        """Like ``tell``, for a caller that has the username but not the user."""
        user = self._users.get_user(username)
        if user is not None:
            self.tell(user, text)

    def tell(self, user: User, text: str) -> None:
        if not user.phones:
            return
        try:
            self._sender.send(OutgoingMessage(channel=Channel.SMS, to=user.phones[0], body=f"IBKR: {text}"))
        except DeliveryFailed:
            logger.warning("security notice not sent", extra={"notice_for": user.username})
