"""The demo term's calls on the running platform: its public HTTP APIs, as its people make them.

`TermCalls` holds the demo client, the term's number and the counseling center's and the
community psychology teacher's sign-ins; `term.Term` plays the term on top of it.
"""

from __future__ import annotations

from typing import Any

from shouwang_contracts.vocabulary import Role

from ._proc import DevstackError
from .demo import DemoClient
from .words import language, text


class TermCalls:
    """The platform as one term's people reach it: a refused call stops the term, named."""

    def __init__(self, client: DemoClient, term: int) -> None:
        self.c = client
        self.term = term
        self.center = client.headers(Role.COUNSELING_CENTER)
        self.teacher = client.headers(Role.COMMUNITY_PSYCH_TEACHER)
        self.lang = language()

    # HTTP ---------------------------------------------------------------------------------
    def call(self, method: str, service: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        answer = self.c.http.request(method, self.c.url(service, path), headers=headers, **kw)
        if answer.status_code >= 300:
            raise DevstackError(
                text(
                    "http_refused",
                    method=method,
                    service=service,
                    path=path,
                    status=answer.status_code,
                    body=answer.text[:600],
                )
            )
        return answer.json() if answer.content else None

    def student_ref(self, student_no: str) -> str:
        """The pseudonym cases carry for `student_no`, as the counseling center looks it up."""
        found = self.call(
            "GET", "casework", "/v1/students/lookup", self.center, params={"q": student_no}
        )
        refs = [c["student_ref"] for c in found["items"] if c["student_no"] == student_no]
        if not refs:
            raise DevstackError(text("not_on_roster", student=student_no))
        return str(refs[0])

    def case_by_report(self, report_id: str, student_ref: str) -> dict[str, Any] | None:
        """The case holding `report_id`, as the counseling center (the whole campus) sees it.

        Only the reported student's cases are opened, as a counselor would: every case of the
        campus read on each poll was a read of every student's file twice a second. Every page
        of the queue: each term's census leaves open cases behind, so a campus can hold more
        than one page."""
        offset = 0
        while True:
            page = self.call(
                "GET", "casework", "/v1/cases", self.center, params={"limit": 100, "offset": offset}
            )
            for item in page["items"]:
                if item["student_ref"] != student_ref:
                    continue
                case = self.call("GET", "casework", f"/v1/cases/{item['case_id']}", self.center)
                if report_id in case["report_ids"]:
                    return dict(case)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return None

    def case(self, case_id: str) -> dict[str, Any]:
        return dict(self.call("GET", "casework", f"/v1/cases/{case_id}", self.center))

    def move(self, case_id: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
        return dict(
            self.call("POST", "casework", f"/v1/cases/{case_id}/transitions", headers, json=body)
        )
