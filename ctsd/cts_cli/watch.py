"""`cts watch`: follow change events, live (Server-Sent Events) or by polling the feed.

By default it starts at the current end of the journal (only what happens from now on);
--from-start replays every event kept, --after CURSOR continues after an event seen
before (cursors look like `0:7`). Each event prints as `<cursor>  <summary>`, the
summary of its fedora-messaging class (schemas/), or with --json as one JSON line
{"cursor", "topic", "body"}. A dropped stream is reopened from the last event seen,
so nothing is missed or printed twice.
"""

from __future__ import annotations

import argparse
import json
import re
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
    start = watch.add_mutually_exclusive_group()
    start.add_argument("--after", metavar="CURSOR", type=cursor_argument,
                       help="continue after this event (its cursor, e.g. 0:7)")
    start.add_argument("--from-start", action="store_true",
                       help="replay every event still kept, then follow")
    watch.add_argument("--count", type=int, default=0, help="stop after N events (0: never)")
    watch.add_argument("--poll", action="store_true",
                       help="poll GET /api/1/events/ instead of the live stream")
    watch.add_argument("--interval", type=float, default=2.0,
                       help="seconds between polls when idle (--poll)")
    watch.add_argument("--json", action="store_true",
                       help="one JSON line per event (cursor, topic, body)")
    watch.set_defaults(func=watch_events)


def cursor_argument(text: str) -> str:
    """A feed cursor as the service hands them out: `<xid>:<id>`, or 0 for the start."""
    if text.strip() == "0" or _CURSOR.fullmatch(text.strip()):
        return text.strip()
    raise argparse.ArgumentTypeError(
        f"{text!r} is not an event cursor: use the cursor printed with an earlier event "
        "(e.g. 0:7), or --from-start")


_CURSOR = re.compile(r"[0-9]{1,19}:[0-9]{1,19}")
_PAGE_LIMIT = 1000


def current_end(client: CtsClient) -> str:
    """The cursor after the newest event: the feed read through, in its largest pages
    (one request per 1000 events kept)."""
    after = "0"
    while True:
        page = client.get("/api/1/events/", {"after": after, "limit": str(_PAGE_LIMIT)})
        after = page["next"] or after
        if len(page["events"]) < _PAGE_LIMIT:
            return after


def watch_events(client: CtsClient, args: argparse.Namespace) -> int:
    after = "0" if args.from_start else args.after or current_end(client)
    events = (_polled(client, after, args.interval) if args.poll
              else _streamed(client, after))
    for seen, event in enumerate(events, start=1):
        if args.json:
            print(json.dumps({"cursor": event.cursor, "topic": event.topic,
                              "body": event.body}), flush=True)
        else:
            print(f"{event.cursor}  {summary_of(event)}", flush=True)
        if args.count and seen >= args.count:
            break
    return 0


def summary_of(event: Event) -> str:
    """The `summary` of the event's message class; its topic if no class knows it."""
    # Imported here: fedora-messaging is only needed by the commands that print it.
    from schemas import PUBLISHED_BY_EVENT  # noqa: PLC0415

    body = event.body if isinstance(event.body, dict) else {}
    message_class = PUBLISHED_BY_EVENT.get(str(body.get("event")))
    if message_class is None:
        return event.topic
    try:
        return str(message_class(body=body, topic=event.topic).summary)
    except (KeyError, TypeError, ValueError):
        return event.topic


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
