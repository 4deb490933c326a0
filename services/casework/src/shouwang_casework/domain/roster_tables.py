"""What an upload that is no readable table is, in the domain's words.

Colleges export rosters as XLSX, as UTF-8 CSV (with or without the BOM Excel writes), and as
GB18030 CSV (what Excel on a Chinese Windows saves). Reading them is the kit's safe
spreadsheet reader's (`shouwang_servicekit.spreadsheets`, through `adapters/roster.py:
read_table`), in a worker process within budgets; its refusals arrive here.
"""

from __future__ import annotations


class UnreadableFile(Exception):
    """The upload is not a table we can read; `code` is stable, messages in zh-CN and en."""

    def __init__(self, code: str, message: str, message_en: str, *, status: int = 422) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en
        self.status = status
