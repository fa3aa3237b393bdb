"""`cts watch`: follow change events, live (Server-Sent Events) or by polling the feed.

Each event is printed as one JSON line {"cursor", "topic", "body"}; pass the last
cursor as --after to continue where a previous watch stopped. A dropped stream is
reopened from the last event seen, so nothing is missed or printed twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ctsd.cts_cli.client import CtsClient, CtsError

RECONNECT_DELAY = 1.0


@dataclass(frozen=True)
class Event:
    cursor: str
    topic: str
    body: Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    watch = subparsers.add_parser("watch", help="print change events as they happen")
    watch.add_argument("--after", default="", help="continue after this event cursor")
    watch.add_argument("--count", type=int, default=0, help="stop after N events (0: never)")
    watch.add_argument("--poll", action="store_true",
                       help="poll GET /api/1/events/ instead of the live stream")
    watch.add_argument("--interval", type=float, default=2.0,
                       help="seconds between polls when idle (--poll)")
    watch.set_defaults(func=watch_events)


def watch_events(client: CtsClient, args: argparse.Namespace) -> int:
    events = (_polled(client, args.after, args.interval) if args.poll
              else _streamed(client, args.after))
    for seen, event in enumerate(events, start=1):
        print(json.dumps({"cursor": event.cursor, "topic": event.topic, "body": event.body}),
              flush=True)
        if args.count and seen >= args.count:
            break
    return 0


def _polled(client: CtsClient, after: str, interval: float) -> Iterator[Event]:
    while True:
        page = client.get("/api/1/events/", {"after": after} if after else None)
        for item in page["events"]:
            yield Event(str(item["cursor"]), item["topic"], item["body"])
        after = page["next"]
        if not page["events"]:
            time.sleep(interval)


def _streamed(client: CtsClient, after: str) -> Iterator[Event]:
    while True:
        headers = {"Last-Event-ID": after} if after else None
        try:
            for event in parse_sse(client.stream_lines("/api/1/events/stream", headers=headers)):
                after = event.cursor
                yield event
        except CtsError as exc:
            if exc.status:  # the service answered with an error: retrying will not help
                raise
            print(f"cts: stream interrupted ({exc.message}); reconnecting", file=sys.stderr)
        time.sleep(RECONNECT_DELAY)


def parse_sse(lines: Iterable[str]) -> Iterator[Event]:
    """Events of a text/event-stream: fields until a blank line; ':' lines are comments.

    Frames without data (the `retry:` hint) are not events.
    """
    fields: dict[str, list[str]] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                data = "\n".join(fields["data"])
                yield Event("".join(fields.get("id", [""])),
                            "".join(fields.get("event", ["message"])), json.loads(data))
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
