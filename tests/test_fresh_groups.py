"""The fresh groups a cross-service test gives its services are the ones they use.

`start_fresh_groups` names each service's groups through its settings and places them at the
topics' end; a renamed setting or a new group name in a service would leave that service on
its default group, silently working through earlier tests' records again. Checked against
the services' own settings and casework's file consumers.
"""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.entrypoints.record_consumers import RECORD_STREAMS
from shouwang_contracts.topics import DIRECTORY
from shouwang_devstack.fresh_groups import CASEWORK_FILE_GROUPS, service_groups
from shouwang_intake.config import IntakeSettings
from shouwang_notify.config import NotifySettings
from shouwang_stats.config import StatsSettings
from shouwang_stats.service_layer.events import TOPICS as STATS_TOPICS
from shouwang_triage.config import TriageSettings

#: Each service's settings, and the one naming its groups (a prefix or the group).
SETTINGS: dict[str, tuple[type[BaseSettings], str]] = {
    "triage": (TriageSettings, "group_prefix"),
    "notify": (NotifySettings, "group_prefix"),
    "casework": (CaseworkSettings, "consumer_group"),
    "intake": (IntakeSettings, "consumer_group"),
    "stats": (StatsSettings, "consumer_group"),
}


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_service_reads_the_group_name_it_is_given(
    service: str, devstack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = service_groups(service, "run1")
    for name, value in {**devstack_env, **groups.env}.items():
        monkeypatch.setenv(name, value)
    settings_cls, setting = SETTINGS[service]
    (given,) = groups.env.values()
    assert getattr(settings_cls(), setting) == given
    # Every group placed at the end is one this service joins under that name (or a file
    # consumer's fixed one), and none of them reads the directory from its end.
    for group, topics in groups.at_end.items():
        assert group.startswith(given) or group in CASEWORK_FILE_GROUPS.values()
        assert DIRECTORY not in topics
    # The directory's groups, which read it from the beginning.
    for group, topics in groups.directory.items():
        assert group.startswith(given)
        assert topics == (DIRECTORY,)


def test_casework_file_groups_are_the_ones_its_file_consumers_join() -> None:
    assert {topic: group for topic, group, *_ in RECORD_STREAMS} == CASEWORK_FILE_GROUPS


def test_stats_fresh_groups_cover_every_topic_it_counts() -> None:
    groups = service_groups("stats", "run1")
    (prefix,) = groups.env.values()
    placed = {**groups.at_end, **groups.directory}
    assert placed == {f"{prefix}.{topic}": (topic,) for topic in STATS_TOPICS}
