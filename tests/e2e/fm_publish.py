"""Publish one message with the real `fedora_messaging.api.publish`, as every service
in the ecosystem does (it never sets the AMQP user_id).

Run as its own process: fedora-messaging reads its configuration file
($FEDORA_MESSAGING_CONF) once per process and runs a Twisted reactor.

    python -m tests.e2e.fm_publish TOPIC JSON_BODY   → prints {"id": ...} or {"error": ...}
"""

from __future__ import annotations

import json
import sys

from fedora_messaging import api, exceptions, message


def main(topic: str, body: str) -> int:
    outgoing = message.Message(topic=topic, body=json.loads(body))
    try:
        api.publish(outgoing, timeout=20)
    except exceptions.PublishException as exc:
        print(json.dumps({"id": outgoing.id, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps({"id": outgoing.id}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
