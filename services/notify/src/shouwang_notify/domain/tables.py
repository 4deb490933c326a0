"""Why an uploaded contacts file cannot be read.

Reading it (XLSX, or CSV in UTF-8 with or without BOM, UTF-16 or GB18030) is the kit's safe
spreadsheet reader's work, through `adapters/contact_files.py`.
"""

from __future__ import annotations


class UnreadableFile(Exception):
    """The upload is not a table notify can read; `code` is stable, messages zh-CN and en,
    `status` the HTTP status it calls for (413 over a limit, 415 not a table, 422 damaged)."""

    def __init__(self, code: str, message: str, message_en: str, *, status: int = 422) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en
        self.status = status
