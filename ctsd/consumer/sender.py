"""Who sent a request, as far as the broker vouches for it. No I/O.

Two broker guarantees name a publisher:
- the AMQP `user_id` property: RabbitMQ refuses a message whose user_id differs from
  the connection's login, so when present it is the sender;
- the topic `<prefix>request.<action>.<user>`, with topic permissions that let each
  login write only topics ending in its own name (RabbitMQ expands `{username}` in
  the write regex of `set_topic_permissions`; README, "Broker set-up"). Standard
  publishers (`fedora_messaging.api.publish`) never set user_id, so this is how they
  are identified. The consumer trusts it only with `[consumer] sender_from_topic`,
  since without those permissions anyone could name anyone.
"""

from __future__ import annotations

from handlers.usernames import username_problem


class SenderRefused(Exception):
    """Nobody vouches for the sender; ctsd.consumer.inputs makes it a Refused."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def split_request_topic(suffix: str) -> tuple[str, str | None]:
    """`request.tag` → ("request.tag", None); `request.tag.alice` → ("request.tag",
    "alice"). A user name may itself contain dots (certificate names often do)."""
    words = suffix.split(".", 2)
    action = ".".join(words[:2])
    return action, (words[2] if len(words) == 3 and words[2] else None)


def request_sender(user_id: str | None, topic_sender: str | None,
                   trust_topic: bool) -> str:
    """The sender's login, or SenderRefused (401/403) when nobody vouches for it or the
    name is not one a user can have (the same username rule as HTTP callers)."""
    sender = _vouched_sender(user_id, topic_sender, trust_topic)
    problem = username_problem(sender)
    if problem:
        raise SenderRefused(401, "no authenticated sender", problem)
    return sender


def _vouched_sender(user_id: str | None, topic_sender: str | None,
                    trust_topic: bool) -> str:
    if user_id:
        if topic_sender is not None and topic_sender != user_id:
            raise SenderRefused(403, "sender mismatch",
                                f"The topic names {topic_sender!r} but the message's "
                          f"user_id is {user_id!r}")
        return user_id
    if topic_sender is None:
        raise SenderRefused(401, "no authenticated sender",
                      "Requests must carry the AMQP user_id property or name their "
                      "sender in the topic (<prefix>request.<action>.<user>)")
    if not trust_topic:
        raise SenderRefused(401, "no authenticated sender",
                      "The topic names a sender, but this CTS does not trust topics to "
                      "name senders ([consumer] sender_from_topic is off)")
    return topic_sender
