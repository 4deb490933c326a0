"""Import endpoints refuse files the same way: the kit's upload checks and the reader's
refusals as problem answers."""

from __future__ import annotations

import io

import pytest
from shouwang_servicekit.problems import Problem
from shouwang_servicekit.spreadsheets import SheetRefused
from shouwang_servicekit.uploads import read_table_upload, refused_upload
from starlette.datastructures import Headers, UploadFile


def upload(data: bytes, content_type: str | None = "text/csv") -> UploadFile:
    headers = Headers({"content-type": content_type}) if content_type is not None else None
    return UploadFile(io.BytesIO(data), filename="名单.csv", headers=headers)


async def refusal(data: bytes, limit: int = 1024, content_type: str | None = "text/csv") -> Problem:
    with pytest.raises(Problem) as refused:
        await read_table_upload(upload(data, content_type), limit)
    return refused.value


@pytest.mark.parametrize(
    "content_type",
    [
        "text/csv; charset=utf-8",
        "application/vnd.ms-excel",  # what Windows browsers call a .csv
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/octet-stream",
        None,  # no type sent at all: judged by content
    ],
)
async def test_a_table_is_read_whole_whatever_type_a_browser_sends(
    content_type: str | None,
) -> None:
    data = "学号,姓名\n2024010001,张三\n".encode()
    assert await read_table_upload(upload(data, content_type), 1024) == data


async def test_a_file_of_another_type_is_415_naming_it() -> None:
    problem = await refusal(b"\x89PNG\r\n", content_type="image/png")
    assert (problem.status, problem.code) == (415, "unsupported_file_type")
    assert "image/png" in (problem.detail or "")
    assert "image/png" in (problem.detail_en or "")


async def test_a_file_just_over_the_limit_is_413_naming_the_limit() -> None:
    assert await read_table_upload(upload(b"a" * 2048), 2048) == b"a" * 2048
    problem = await refusal(b"a" * 2049, limit=2048)
    assert (problem.status, problem.code) == (413, "file_too_large")
    assert "2 KiB" in (problem.detail or "")
    big = await refusal(b"a" * (3 * 1024 * 1024 + 1), limit=3 * 1024 * 1024)
    assert "3 MiB" in (big.detail or "")
    assert "3 MiB" in (big.detail_en or "")


@pytest.mark.parametrize("data", [b"", b"\r\n  \n"])
async def test_an_empty_file_is_422(data: bytes) -> None:
    problem = await refusal(data)
    assert (problem.status, problem.code, problem.detail) == (422, "empty_file", "文件为空")


@pytest.mark.parametrize(
    ("code", "status", "answered"),
    [
        ("legacy_excel", 415, 415),
        ("not_a_table", 415, 415),
        # text that stops decoding part way is no table either, though the reader says 422
        ("unknown_encoding", 422, 415),
        ("malformed_csv", 422, 422),
        ("too_many_rows", 413, 413),
    ],
)
def test_the_readers_refusal_keeps_its_code_and_words(
    code: str, status: int, answered: int
) -> None:
    problem = refused_upload(SheetRefused(code, "中文说明", "what went wrong", status=status))
    assert (problem.status, problem.code) == (answered, code)
    assert (problem.detail, problem.detail_en) == ("中文说明", "What went wrong")
