"""The file consumers' groups: production's names by default, another prefix when told.

Deployments have committed offsets under `casework-file-reports` ...: a default that named
them differently would start the student file over from each topic's beginning.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.container import Casework
from shouwang_casework.entrypoints import record_consumers
from shouwang_contracts.topics import ASSESSMENTS, CENSUS, REPORTS, SCREENINGS

PRODUCTION_GROUPS = {
    REPORTS: "casework-file-reports",
    SCREENINGS: "casework-file-screenings",
    CENSUS: "casework-file-census",
    ASSESSMENTS: "casework-file-assessments",
}


def joined_groups(settings: CaseworkSettings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The group each file consumer subscribes under, by topic, for `settings`."""
    joined: dict[str, str] = {}

    def subscribe_batch(broker: KafkaBroker, topic: str, *, group_id: str, **_: Any) -> None:
        joined[topic] = group_id

    monkeypatch.setattr(record_consumers, "subscribe_batch", subscribe_batch)
    unused = cast(Any, None)  # the pool and keys: subscribing touches none of them
    casework = Casework(settings, unused, KafkaBroker("127.0.0.1:9"), unused, unused, unused)
    record_consumers.register_record_consumers(casework)
    return joined


def test_default_file_groups_are_the_names_production_committed_offsets_under(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CASEWORK_FILE_CONSUMER_GROUP", raising=False)
    assert joined_groups(CaseworkSettings(), monkeypatch) == PRODUCTION_GROUPS


def test_file_groups_follow_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_FILE_CONSUMER_GROUP", "casework-t1-file")
    assert joined_groups(CaseworkSettings(), monkeypatch) == {
        REPORTS: "casework-t1-file-reports",
        SCREENINGS: "casework-t1-file-screenings",
        CENSUS: "casework-t1-file-census",
        ASSESSMENTS: "casework-t1-file-assessments",
    }


@pytest.mark.parametrize("setting", ["CASEWORK_FILE_CONSUMER_GROUP", "CASEWORK_CONSUMER_GROUP"])
@pytest.mark.parametrize("value", ["", "casework file", "casework/file"])
def test_a_group_name_kafka_would_not_take_is_refused_at_start(
    setting: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(setting, value)
    with pytest.raises(ValidationError):
        CaseworkSettings()
