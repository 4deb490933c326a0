"""The fresh groups a cross-service test gives its services are the ones they use.

`start_fresh_groups` names each service's groups through its settings and places them at the
topics' end; a renamed setting or a new group name in a service would leave that service on
its default group, silently working through earlier tests' records again. Checked against
the services' own settings and the groups casework's file consumers join.
"""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.entrypoints.record_consumers import file_groups
from shouwang_contracts.topics import DIRECTORY
from shouwang_devstack.fresh_groups import service_groups
from shouwang_intake.config import IntakeSettings
from shouwang_notify.config import NotifySettings
from shouwang_stats.config import StatsSettings
from shouwang_stats.service_layer.events import TOPICS as STATS_TOPICS
from shouwang_triage.config import TriageSettings

#: Each service's settings, and those naming its groups (a prefix or the group) by variable.
SETTINGS: dict[str, tuple[type[BaseSettings], dict[str, str]]] = {
    "triage": (TriageSettings, {"TRIAGE_GROUP_PREFIX": "group_prefix"}),
    "notify": (NotifySettings, {"NOTIFY_GROUP_PREFIX": "group_prefix"}),
    "casework": (
        CaseworkSettings,
        {
            "CASEWORK_CONSUMER_GROUP": "consumer_group",
            "CASEWORK_FILE_CONSUMER_GROUP": "file_consumer_group",
        },
    ),
    "intake": (IntakeSettings, {"INTAKE_CONSUMER_GROUP": "consumer_group"}),
    "stats": (StatsSettings, {"STATS_CONSUMER_GROUP": "consumer_group"}),
}


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_service_reads_the_group_name_it_is_given(
    service: str, devstack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = service_groups(service, "run1")
    for name, value in {**devstack_env, **groups.env}.items():
        monkeypatch.setenv(name, value)
    settings_cls, names = SETTINGS[service]
    settings = settings_cls()
    assert set(groups.env) == set(names)
    for variable, given in groups.env.items():
        assert getattr(settings, names[variable]) == given
    # Every group placed at the end is one this service joins under a name it was given, and
    # none of them reads the directory from its end.
    for group, topics in groups.at_end.items():
        assert any(group.startswith(given) for given in groups.env.values())
        assert DIRECTORY not in topics
    # The directory's groups, which read it from the beginning.
    for group, topics in groups.directory.items():
        assert any(group.startswith(given) for given in groups.env.values())
        assert topics == (DIRECTORY,)


def test_casework_fresh_file_groups_are_the_ones_its_file_consumers_join() -> None:
    groups = service_groups("casework", "run1")
    joined = file_groups(groups.env["CASEWORK_FILE_CONSUMER_GROUP"])
    assert {group: groups.at_end[group] for group in joined.values()} == {
        group: (topic,) for topic, group in joined.items()
    }


def test_stats_fresh_groups_cover_every_topic_it_counts() -> None:
    groups = service_groups("stats", "run1")
    (prefix,) = groups.env.values()
    placed = {**groups.at_end, **groups.directory}
    assert placed == {f"{prefix}.{topic}": (topic,) for topic in STATS_TOPICS}
