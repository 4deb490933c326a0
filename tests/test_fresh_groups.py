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
from shouwang_devstack import fresh_groups
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
#: Services whose directory group is `<prefix>.<directory topic>`, and their prefix's variable.
PREFIXES = {"triage": "TRIAGE_GROUP_PREFIX", "notify": "NOTIFY_GROUP_PREFIX"}


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


@pytest.mark.parametrize("own_directory", [False, True])
async def test_the_directory_groups_start_at_its_end_only_for_a_test_that_owns_it(
    own_directory: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed: dict[str, tuple[str, ...]] = {}

    async def start_groups_at_end(bootstrap: str, groups: dict[str, tuple[str, ...]]) -> None:
        placed.update(groups)

    monkeypatch.setattr(fresh_groups, "start_groups_at_end", start_groups_at_end)
    env = await fresh_groups.start_fresh_groups(
        "unused:9092", ("triage", "notify"), own_directory=own_directory
    )
    at_directory_end = {g for g, topics in placed.items() if DIRECTORY in topics}
    owned = {f"{env[service][prefix]}.{DIRECTORY}" for service, prefix in PREFIXES.items()}
    assert at_directory_end == (owned if own_directory else set())
    # The other topics' groups are at the end either way.
    others = sum(len(service_groups(service, "x").at_end) for service in PREFIXES)
    assert len(placed.keys() - at_directory_end) == others
