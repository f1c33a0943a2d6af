"""Meetings from a YAML document: parsing, recurrence and time zones with dateutil."""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass
from datetime import datetime

from dateutil import parser, rrule, tz
from dateutil.relativedelta import relativedelta

FREQUENCIES = {"daily": rrule.DAILY, "weekly": rrule.WEEKLY, "monthly": rrule.MONTHLY}


@dataclass(frozen=True)
class Meeting:
    title: str
    start: datetime
    minutes: int
    where: str

    @property
    def end(self) -> datetime:
        return self.start + relativedelta(minutes=self.minutes)


def meetings(doc: dict) -> list[Meeting]:
    """Every occurrence of every event, in the document's home time zone, by start."""
    zones = pkgutil.get_data("tzdata", "zones").decode().split()  # the IANA names
    if doc["timezone"] not in zones:
        raise SystemExit(f"unknown time zone {doc['timezone']!r}: use an IANA name, "
                         f"such as {zones[0]!r}")
    home = tz.gettz(doc["timezone"])
    found = []
    for event in doc["events"]:
        first = parser.parse(str(event["start"]))
        if first.tzinfo is None:
            first = first.replace(tzinfo=home)
        repeat = event.get("repeat")
        starts = [first] if repeat is None else rrule.rrule(
            FREQUENCIES[repeat["every"]], dtstart=first, count=repeat["count"])
        found += [Meeting(event["title"], start.astimezone(home), event.get("minutes", 30),
                          event.get("where", "online")) for start in starts]
    return sorted(found, key=lambda meeting: meeting.start)
