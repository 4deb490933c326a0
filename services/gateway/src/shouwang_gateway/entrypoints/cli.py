"""`shouwang-gateway-accounts`: local accounts for a pilot, and the demo campus's set.

    shouwang-gateway-accounts create --campus C --username U --role R --sub S [--scope G ...]
                                     [--name N]          (password read from stdin)
    shouwang-gateway-accounts seed-demo [--campus demo] [--passwords-json FILE]

`seed-demo` gives every demo account (one per role, people of the sample roster) a fresh
random password and prints them: for a developer's machine only, refused outside
SHOUWANG_ENV=local. Reads GATEWAY_DATABASE_URL like the gateway.

What it prints for a person is in zh-CN, or English with `SHOUWANG_LANG=en` (as the dev tools
say it: `make up`, `make demo`, `shouwang-dlq`); the gateway keeps its own few words here rather
than import the devstack. Identifiers, usernames, roles' ids and passwords stay as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

import asyncpg
from shouwang_contracts.vocabulary import (
    DEFAULT_LANGUAGE,
    LANGUAGE_ENV,
    Language,
    Role,
    in_language,
    language_named,
)

from ..adapters.passwords import Passwords
from ..adapters.store import GatewayStore
from ..config import GatewaySettings
from ..domain.accounts import (
    DEMO_ACCOUNTS,
    DEMO_CAMPUS,
    Account,
    AccountRefused,
    check_account_fields,
    check_password,
)

#: What this tool says to a person: (zh-CN, English), `str.format` placeholders.
_WORDS: dict[str, tuple[str, str]] = {
    "demo_account": (
        "演示账号  校区 {campus}  用户名 {username:<10}  密码 {password}  （{role_label}，{role}）",
        "demo account  campus={campus}  username={username:<10}  password={password}"
        "  ({role_label}, {role})",
    ),
    "local_only": (
        "seed-demo 仅限 SHOUWANG_ENV=local（开发者本机）使用",
        "seed-demo is for SHOUWANG_ENV=local only",
    ),
    "account_saved": (
        "账号 {username} 已保存（校区 {campus}，{role_label}，{role}）",
        "account {username} saved for campus {campus} ({role_label}, {role})",
    ),
    "refused": ("已拒绝：{reason}", "refused: {reason}"),
    "bad_language": (
        "无法识别的 SHOUWANG_LANG：{value}（可选 zh-CN 或 en）",
        "SHOUWANG_LANG not recognised: {value} (zh-CN or en)",
    ),
}


class UnknownLanguage(ValueError):
    """`SHOUWANG_LANG` names a language this tool does not speak."""


def language(environ: Mapping[str, str] | None = None) -> Language:
    """`SHOUWANG_LANG` (zh-CN when unset or empty); UnknownLanguage for anything else."""
    value = (os.environ if environ is None else environ).get(LANGUAGE_ENV, "")
    named = language_named(value)
    if named is None:
        raise UnknownLanguage(value.strip())
    return named


def words(key: str, lang: Language, **values: object) -> str:
    """The line `key` in `lang`, its placeholders filled."""
    return in_language(_WORDS[key], lang).format(**values)


def demo_account_line(entry: Mapping[str, str], lang: Language) -> str:
    """One demo account as printed: where, who, the password and the role in `lang`."""
    return words(
        "demo_account",
        lang,
        campus=entry["campus_id"],
        username=entry["username"],
        password=entry["password"],
        role_label=Role(entry["role"]).label(lang),
        role=entry["role"],
    )


async def _with_store(settings: GatewaySettings, work: object) -> None:
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1)
    try:
        await work(GatewayStore(pool))  # type: ignore[operator]
    finally:
        await pool.close()


def demo_password() -> str:
    """16 characters from an alphabet without look-alikes (0/O, 1/l/I)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


async def seed_demo(store: GatewayStore, campus_id: str) -> list[dict[str, str]]:
    """Create or reset the demo accounts; returns username, role and password of each."""
    passwords = Passwords()
    issued = []
    for demo in DEMO_ACCOUNTS:
        password = demo_password()
        await store.save_account(
            Account(
                campus_id=campus_id,
                username=demo.username,
                password_hash=passwords.hash(password),
                sub=demo.sub,
                role=demo.role,
                scope=demo.scope,
                display_name=demo.display_name,
            )
        )
        await store.delete_sessions_of(campus_id, demo.sub)
        issued.append(
            {
                "campus_id": campus_id,
                "username": demo.username,
                "role": demo.role.value,
                "role_label": demo.role.label(),
                "sub": demo.sub,
                "password": password,
            }
        )
    return issued


def _cmd_seed_demo(
    args: argparse.Namespace, settings: GatewaySettings, lang: Language = DEFAULT_LANGUAGE
) -> int:
    if settings.env != "local":
        print(words("local_only", lang), file=sys.stderr)
        return 2
    issued: list[dict[str, str]] = []

    async def work(store: GatewayStore) -> None:
        issued.extend(await seed_demo(store, args.campus))

    asyncio.run(_with_store(settings, work))
    if args.passwords_json:
        path = Path(args.passwords_json)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(issued, handle, ensure_ascii=False, indent=2)
    for entry in issued:
        print(demo_account_line(entry, lang))
    return 0


def _cmd_create(
    args: argparse.Namespace, settings: GatewaySettings, lang: Language = DEFAULT_LANGUAGE
) -> int:
    password = sys.stdin.readline().rstrip("\n")
    scope = tuple(args.scope or ())
    try:
        role = Role(args.role)
        check_account_fields(
            campus_id=args.campus, username=args.username, sub=args.sub, role=role, scope=scope
        )
        check_password(password)
    except (AccountRefused, ValueError) as exc:
        print(words("refused", lang, reason=exc), file=sys.stderr)
        return 2
    account = Account(
        campus_id=args.campus,
        username=args.username,
        password_hash=Passwords().hash(password),
        sub=args.sub,
        role=role,
        scope=scope,
        display_name=args.name or "",
    )

    async def work(store: GatewayStore) -> None:
        await store.save_account(account)
        await store.delete_sessions_of(account.campus_id, account.sub)

    asyncio.run(_with_store(settings, work))
    print(
        words(
            "account_saved",
            lang,
            username=args.username,
            campus=args.campus,
            role_label=role.label(lang),
            role=role.value,
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shouwang-gateway-accounts")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create or replace an account; password on stdin")
    create.add_argument("--campus", required=True)
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--sub", required=True, help="工号/学号 as the roster has it")
    create.add_argument("--scope", action="append", help="a grant, e.g. building:8号楼")
    create.add_argument("--name", help="display name")
    create.set_defaults(func=_cmd_create)
    seed = sub.add_parser("seed-demo", help="the demo campus's accounts, fresh passwords")
    seed.add_argument("--campus", default=DEMO_CAMPUS)
    seed.add_argument("--passwords-json", help="also write them to this file (mode 0600)")
    seed.set_defaults(func=_cmd_seed_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lang = language()
    except UnknownLanguage as exc:
        print(words("bad_language", DEFAULT_LANGUAGE, value=exc), file=sys.stderr)
        return 2
    code: int = args.func(args, GatewaySettings(), lang)
    return code


if __name__ == "__main__":
    sys.exit(main())
