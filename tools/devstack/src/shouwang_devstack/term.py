"""`shouwang-demo` (`make demo`): play a term on the demo campus against a running `make up`.

Through the public HTTP APIs only, as the people of the sample roster would:
1. the counseling center uploads the term's PHQ-9 census (the sample file, dated today; a row
   without a student number is refused by its number, incomplete rows are graded and flagged);
2. a floor leader reports a red flag (a plan, possessions given away): a critical alert; a
   student asks their dorm-room leader for help with low mood and sleeplessness, and the leader
   reports it as a self-referral: a lesser one;
3. the critical alert's owner acknowledges it from the link in the message they received (the
   local sinks under `.data/`); nobody acknowledges the other one, and it climbs the ladder;
4. the critical case runs the closed loop: intervention, a referral with consent, the student's
   return, the family contacted after consent, follow-up, closure as relieved; the other case
   is then acknowledged and closed too, so the next term starts clean;
5. stats' outcome table for the year.

Every term picks other students (`.data/demo-terms.json` counts the terms), so running it again
adds a term and never trips over the last one's data.
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from shouwang_contracts.vocabulary import ReportChannel, Role, Severity, Signal

from ._proc import DevstackError
from .demo import DemoClient, samples_dir
from .sinks import LocalSinks
from .term_http import TermCalls
from .term_io import census_for_today, next_term, render_csv, say, wait_for
from .words import in_sentence, language, text, value_label

#: Students of the sample roster with family contacts (contacts_family.csv): one is reported in
#: crisis each term, so a family can be reached. The lesser report rotates over 8号楼.
CRISIS_STUDENTS = ("2024020001", "2024030002", "2024010003", "2024020004")
LESSER_STUDENTS = ("2024030005", "2024020007", "2024010009", "2024030011", "2024020013")
# A census batch's row counts, as intake answers them and the narration names them.
_CENSUS_COUNTS = ("rows_total", "rows_accepted", "rows_incomplete", "rows_rejected")
_LINK = re.compile(r"https?://[^\s\"'<>]+(/ack/[A-Za-z0-9_.~\-/]+)")


class Term(TermCalls):
    """One term's play; each step prints what happened."""

    def __init__(self, client: DemoClient, term: int) -> None:
        super().__init__(client, term)
        self.crisis_student = CRISIS_STUDENTS[term % len(CRISIS_STUDENTS)]
        self.lesser_student = LESSER_STUDENTS[term % len(LESSER_STUDENTS)]
        self.sinks = LocalSinks(client.data)  # read only: `make up` runs them

    # the term -----------------------------------------------------------------------------
    def play(self) -> None:
        self.sinks.mark()
        self.tell("term", term=self.term, campus=self.c.campus)
        self.census()
        crisis_report = self.report(
            Role.FLOOR_LEADER,
            self.crisis_student,
            ["suicide_plan", "giving_away_possessions"],
            "他说已经想好了怎么做，还把电脑送人了",
        )
        lesser_report = self.report(
            Role.DORM_LEADER,
            self.lesser_student,
            ["persistent_low_mood", "sleep_disturbance", "social_withdrawal"],
            "室友主动找我，说最近两周整夜睡不着，不想和人说话，希望有老师帮帮忙",
            ReportChannel.SELF_REFERRAL,
        )
        crisis_ref = self.student_ref(self.crisis_student)
        crisis = wait_for(
            text("wait_crisis_case", self.lang),
            lambda: self.case_by_report(crisis_report, crisis_ref),
            120,
        )
        self.say_case(crisis)
        lesser_ref = self.student_ref(self.lesser_student)
        lesser = wait_for(
            text("wait_lesser_case", self.lang),
            lambda: self.case_by_report(lesser_report, lesser_ref),
            120,
        )
        self.say_case(lesser)
        self.acknowledge_from_message(crisis)
        self.watch_escalation(lesser)
        self.close_the_loop(crisis)
        self.settle(lesser)
        self.outcome_table()

    def tell(self, key: str, **values: object) -> None:
        say(text(key, self.lang, **values))

    def say_case(self, case: dict[str, Any]) -> None:
        self.tell(
            "case",
            case=case["case_id"][:8],
            severity=Severity(case["severity"]).label(self.lang),
            owner=Role(case["owner_role"]).label(self.lang),
            state=value_label("state", case["state"], self.lang),
        )

    def census(self) -> None:
        body = census_for_today(samples_dir())
        batch = self.call(
            "POST",
            "intake",
            "/v1/screenings/bulk",
            self.center,
            files={"file": (f"census-term-{self.term}.csv", body, "text/csv")},
        )
        batch_id = batch["batch_id"]

        def finished() -> dict[str, Any] | None:
            now = self.call("GET", "intake", f"/v1/screenings/bulk/{batch_id}", self.center)
            return dict(now) if now["status"] != "processing" else None

        done = wait_for(text("wait_census", self.lang), finished, 120)
        counts = {k: done[k] for k in _CENSUS_COUNTS}
        status = value_label("batch", done["status"], self.lang)
        self.tell("census", batch=batch_id[:8], status=status, **counts)

    def report(
        self,
        role: Role,
        student: str,
        signals: list[str],
        note: str,
        channel: ReportChannel = ReportChannel.OBSERVED,
    ) -> str:
        reporter = self.c.headers(role)
        body = {
            "campus_id": self.c.campus,
            "student_no": student,
            "signals": signals,
            "observed_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
            "note": note,
            "channel": channel.value,
        }
        answer = self.call(
            "POST",
            "intake",
            "/v1/reports",
            {**reporter, "Idempotency-Key": str(uuid.uuid4())},
            json=body,
        )
        named = ("、" if self.lang == "zh-CN" else ", ").join(
            Signal(signal).label(self.lang) for signal in signals
        )
        self.tell(
            "report",
            role=in_sentence(role.label(self.lang), self.lang),
            channel=in_sentence(channel.label(self.lang), self.lang),
            signals=named,
            report=answer["id"][:8],
        )
        return str(answer["id"])

    def acknowledge_from_message(self, case: dict[str, Any]) -> None:
        """The owner opens the link in the message of a critical alert and confirms it.

        The census may have raised other critical alerts this term: each link found is
        confirmed, until the crisis case's alert shows acknowledged.
        """
        severity = case["severity"]
        label = Severity(severity).label()  # as notify's zh-CN messages name it
        shown = in_sentence(Severity(severity).label(self.lang), self.lang)
        confirmed: set[str] = set()

        def acknowledged() -> bool | None:
            for channel, said in self.sinks.messages():
                for found in _LINK.finditer(said):
                    if label not in said or found[1] in confirmed:
                        continue
                    confirmed.add(found[1])
                    page = self.c.http.get(self.c.url("notify", found[1]))
                    done = self.c.http.post(self.c.url("notify", found[1]))
                    self.tell(
                        "confirmed",
                        severity=shown,
                        channel=value_label("channel", channel, self.lang),
                        page=page.status_code,
                        done=done.status_code,
                    )
            alerts = [a for a in self.case(case["case_id"])["alerts"] if a["severity"] == severity]
            return True if alerts and all(a["acknowledged_at"] for a in alerts) else None

        wait_for(text("wait_acknowledged", self.lang, severity=shown), acknowledged, 180)
        self.tell("acknowledged")

    def watch_escalation(self, case: dict[str, Any]) -> None:
        """Nobody acknowledges the lesser alert: it climbs the ladder (the demo's is in seconds)."""

        def climbed() -> dict[str, Any] | None:
            alerts = self.case(case["case_id"])["alerts"]
            open_climbed = [a for a in alerts if a["escalation_level"] > 0]
            return open_climbed[0] if open_climbed else None

        alert = wait_for(text("wait_escalation", self.lang), climbed, 240)
        self.tell(
            "escalated",
            severity=in_sentence(Severity(alert["severity"]).label(self.lang), self.lang),
            level=alert["escalation_level"],
            owner=Role(alert["owner_role"]).label(self.lang),
        )

    def close_the_loop(self, case: dict[str, Any]) -> None:
        case_id = case["case_id"]
        view = self.move(
            case_id, self.teacher, to_state="intervention", action_taken="当面谈心，约定每日联系"
        )
        self.tell("loop", state=self.state(view))
        view = self.move(
            case_id,
            self.teacher,
            to_state="referred",
            referral={
                "destination_type": "hospital",
                "destination": "市精神卫生中心",
                "consent": "given",
            },
        )
        referral = value_label("referral", view["referral"]["status"], self.lang)
        self.tell("loop_referred", state=self.state(view), status=referral)
        for status in ("accepted", "returned"):
            view = self.call(
                "POST",
                "casework",
                f"/v1/cases/{case_id}/referral/status",
                self.teacher,
                json={"status": status},
            )
        returned = value_label("referral", "returned", self.lang)
        self.tell("loop_returned", status=returned, state=self.state(view))
        self.call(
            "POST",
            "casework",
            f"/v1/cases/{case_id}/family-consent",
            self.teacher,
            json={"decision": "given"},
        )
        family = wait_for(text("wait_family", self.lang), self.family_message, 90)
        self.tell("family", channel=value_label("channel", family, self.lang))
        view = self.move(case_id, self.teacher, to_state="follow_up")
        follow_up = next(f for f in view["follow_ups"] if f["status"] == "scheduled")
        self.complete_follow_up(
            case_id, follow_up["follow_up_id"], "返校后电话回访，情绪平稳", "relieved"
        )
        view = self.move(case_id, self.teacher, to_state="closed", outcome="relieved")
        outcome = value_label("outcome", view["outcome"], self.lang)
        self.tell("loop_closed", state=self.state(view), outcome=outcome)

    def state(self, view: dict[str, Any]) -> str:
        return value_label("state", view["state"], self.lang)

    def complete_follow_up(
        self, case_id: str, follow_up_id: str, reason: str, finding: str
    ) -> None:
        """Close a follow-up as done, with what it found (a `relieved` one is a person-time
        relieved in stats) where casework records findings; without, where it does not."""
        path = f"/v1/cases/{case_id}/follow-ups/{follow_up_id}"
        body = {"close_as": "completed", "reason": reason, "finding": finding}
        answer = self.c.http.patch(self.c.url("casework", path), json=body, headers=self.teacher)
        if answer.status_code == 422 and "finding" in answer.text:
            del body["finding"]
            answer = self.c.http.patch(
                self.c.url("casework", path), json=body, headers=self.teacher
            )
        if answer.status_code >= 300:
            raise DevstackError(
                f"PATCH casework{path} answered {answer.status_code}: {answer.text[:600]}"
            )

    def family_message(self) -> str | None:
        for channel, said in self.sinks.messages():
            if "希望尽快与您沟通" in said:
                return channel
        return None

    def settle(self, case: dict[str, Any]) -> None:
        """The escalated case: acknowledged at last, worked, followed up and closed."""
        case_id = case["case_id"]
        for alert in self.case(case_id)["alerts"]:
            if alert["acknowledged_at"] is None:
                path = f"/v1/alerts/{alert['alert_id']}/acknowledgement"
                answer = self.c.http.post(self.c.url("casework", path), headers=self.center)
                if answer.status_code != 200:  # above the center: the college leader's
                    self.call("POST", "casework", path, self.c.headers(Role(alert["owner_role"])))
        self.move(case_id, self.teacher, to_state="intervention", action_taken="约谈并安排宿舍调整")
        self.move(case_id, self.teacher, to_state="follow_up")
        follow_up = self.call(
            "POST",
            "casework",
            f"/v1/cases/{case_id}/follow-ups",
            self.teacher,
            json={"due_at": datetime.now(UTC).isoformat()},
        )
        self.complete_follow_up(
            case_id, follow_up["follow_up_id"], "一周后回访，睡眠好转", "stable"
        )
        closed = self.move(case_id, self.teacher, to_state="closed", outcome="stable")
        self.tell("settled", state=self.state(closed))

    def outcome_table(self) -> None:
        if "stats" not in self.c.urls:
            return
        try:
            answer = self.c.http.get(
                self.c.url("stats", "/v1/outcomes/annual"),
                params={"format": "csv"},
                headers={**self.center, "Accept-Language": self.lang},
            )
        except httpx.TransportError:
            self.tell("stats_down")
            return
        if answer.status_code != 200:
            self.tell("stats_refused", status=answer.status_code, body=answer.text[:300])
            return
        self.tell("outcomes")
        print(render_csv(answer.text), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `shouwang-demo`."""
    try:
        lang = language()
    except DevstackError as exc:
        say(str(exc))
        return 2
    parser = argparse.ArgumentParser(
        prog="shouwang-demo", description=text("demo_description", lang)
    )
    parser.parse_args(argv)
    try:
        client = DemoClient.from_running()
    except DevstackError as exc:
        say(text("error", lang, error=exc))
        return 1
    try:
        client.check_running()
        Term(client, next_term(client.data)).play()
    except (DevstackError, httpx.TransportError) as exc:
        say(text("error", lang, error=exc))
        return 1
    finally:
        client.close()
    say(text("done", lang))
    return 0


if __name__ == "__main__":
    sys.exit(main())
