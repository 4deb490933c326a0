"""Consumer groups of its own for a test's services, started at the topics' current end.

Shouwang's consumer groups start from the earliest offset, rightly for a first deployment. On
a test session's shared broker the services' default groups first work through whatever
earlier tests and benchmarks left on the topics (or since an earlier test last used that
group): a cross-service test then spends its deadline on other tests' records. Each service
here gets groups named for the test, committed at the current end of the topics whose past
the test does not need, before it starts (`start_fresh_groups`).

Not at the end: the directory (student placements, who holds each role), compacted state a
service needs whole, so its groups read it from the beginning; unless the test publishes
every directory record its services need itself, after the groups are placed
(`own_directory`: then the directory's groups start at its end too).

Casework's file consumers get fresh groups of their own too (CASEWORK_FILE_CONSUMER_GROUP,
`<prefix>-reports` ...), at the end: what they would otherwise catch up on is other tests'
reports, and the groups production uses (`casework-file-*`) are left where they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from shouwang_contracts.topics import (
    ALERTS,
    ASSESSMENTS,
    CASES,
    CENSUS,
    DIRECTORY,
    NOTIFICATIONS,
    REPORTS,
    SCREENINGS,
)

from .topics import start_groups_at_end

#: Casework's file consumers: each topic's group is `<CASEWORK_FILE_CONSUMER_GROUP>-<stream>`
#: (`record_consumers.file_groups`).
CASEWORK_FILE_STREAMS = {
    REPORTS: "reports",
    SCREENINGS: "screenings",
    CENSUS: "census",
    ASSESSMENTS: "assessments",
}


@dataclass
class ServiceGroups:
    """A service's group settings (`env`), the groups to place at the end, with topics, and
    those reading the directory (from the beginning unless the test owns the directory)."""

    env: dict[str, str] = field(default_factory=dict)
    at_end: dict[str, tuple[str, ...]] = field(default_factory=dict)
    directory: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _per_topic(prefix: str, topics: Iterable[str]) -> dict[str, tuple[str, ...]]:
    return {f"{prefix}.{topic}": (topic,) for topic in topics}


def service_groups(service: str, run: str) -> ServiceGroups:
    """The groups `service` uses when told `run` as its group name (or prefix), each topic's
    group at the end but the directory's. The names are each service's settings."""
    if service == "triage":
        prefix = f"triage-{run}"
        return ServiceGroups(
            {"TRIAGE_GROUP_PREFIX": prefix},
            _per_topic(prefix, (REPORTS, SCREENINGS, CENSUS, CASES)),
            _per_topic(prefix, (DIRECTORY,)),
        )
    if service == "notify":
        prefix = f"notify-{run}"
        return ServiceGroups(
            {"NOTIFY_GROUP_PREFIX": prefix},
            _per_topic(prefix, (ALERTS, CASES)),
            _per_topic(prefix, (DIRECTORY,)),
        )
    if service == "casework":
        group, files = f"casework-{run}", f"casework-{run}-file"
        at_end: dict[str, tuple[str, ...]] = {group: (ASSESSMENTS, ALERTS, NOTIFICATIONS)}
        at_end.update(
            {f"{files}-{name}": (topic,) for topic, name in CASEWORK_FILE_STREAMS.items()}
        )
        return ServiceGroups(
            {"CASEWORK_CONSUMER_GROUP": group, "CASEWORK_FILE_CONSUMER_GROUP": files}, at_end
        )
    if service == "intake":
        group = f"intake-{run}"
        return ServiceGroups({"INTAKE_CONSUMER_GROUP": group}, {group: (CASES,)})
    if service == "stats":
        group = f"stats-{run}"
        return ServiceGroups(
            {"STATS_CONSUMER_GROUP": group},
            _per_topic(group, (ASSESSMENTS, ALERTS, CASES, NOTIFICATIONS)),
            _per_topic(group, (DIRECTORY,)),
        )
    raise ValueError(f"no consumer groups known for {service!r}")


async def start_fresh_groups(
    bootstrap: str, services: Iterable[str], *, own_directory: bool = False
) -> dict[str, dict[str, str]]:
    """Give each of `services` groups of its own at the topics' end (the directory's from the
    beginning, or at its end too with `own_directory`: the test publishes every directory
    record its services need after this); returns each service's settings naming them, to
    merge into its env."""
    run = uuid.uuid4().hex[:8]
    settings: dict[str, dict[str, str]] = {}
    for service in services:
        groups = service_groups(service, run)
        at_end = {**groups.at_end, **groups.directory} if own_directory else groups.at_end
        await start_groups_at_end(bootstrap, at_end)
        settings[service] = groups.env
    return settings
