"""The vocabulary the web app decides with (`webvocab.web_vocabulary`) says what the contract's
rules say: the desk reads it instead of copies (web/src/domain/vocabulary.json)."""

from __future__ import annotations

from shouwang_contracts.auth import Principal, ScopeGrant
from shouwang_contracts.events.casework import CaseState
from shouwang_contracts.scopes import ScopeKind
from shouwang_contracts.vocabulary import Role, Signal
from shouwang_contracts.webvocab import web_vocabulary


def test_each_role_carries_its_tier_and_who_may_acknowledge_what_it_owns() -> None:
    roles = web_vocabulary()["roles"]
    assert set(roles) == {role.value for role in Role}
    assert roles["residence_counselor"] == {"tier": 4, "acknowledged_from": 4}
    # Off the ladder: no tier, and only the counseling center stops what it owns.
    assert roles["college_leader"] == {"tier": None, "acknowledged_from": 6}


def test_the_loop_and_the_signals_keep_the_contract_order() -> None:
    vocabulary = web_vocabulary()
    assert vocabulary["case_states"] == [state.value for state in CaseState]
    assert vocabulary["signals"] == [signal.value for signal in Signal]


def test_campus_wide_inputs_are_what_the_rule_answers() -> None:
    wide = web_vocabulary()["campus_wide"]
    assert wide == {"roles": ["counseling_center", "campus_admin"], "grants": ["campus"]}
    # The exported inputs decide as the rule does, for every role with and without each grant.
    for role in Role:
        for kind in [None, *ScopeKind]:
            grants = () if kind is None else (ScopeGrant(kind=kind, value="x"),)
            principal = Principal(sub="s", role=role, campus_id="c", scope=grants)
            held = {g.kind.value for g in principal.scope}
            exported = role.value in wide["roles"] or bool(held & set(wide["grants"]))
            assert exported == principal.campus_wide, (role, kind)
