"""`shouwang-dlq`: read and replay dead letters, in any service's pod, with its Kafka settings.

    shouwang-dlq [--lang zh-CN|en] [--kafka-user NAME] list [TOPIC.dlq ...] [--json]
    shouwang-dlq [--lang zh-CN|en] [--kafka-user NAME] replay TOPIC.dlq
        (--offsets P:O[,P:O...] | --consumer NAME | --reason TEXT | --all) [--dry-run]

Options go before or after the command and its topics (`list TOPIC.dlq --lang en`). Each
dead letter's reason is explained in the chosen language by its kind (a record that is not
JSON, an event breaking its schema, an unknown type, a failure after its attempts, ...),
the technical reason as recorded (`x-dlq-reason`) shown beside it.

With SASL, a service's own Kafka user may write dead letters but not read them, nor write the
topics it consumes (acls.yaml): `--kafka-user` speaks as another (the cluster's admin user),
its password read from stdin so that it is in no argument list or environment.

Exit status: 0 done; 2 a usage mistake (arguments, an offset spec, an offset the topic does
not hold, a name that is not a dead-letter topic, incomplete Kafka settings); 3 a topic the
cluster does not have (or does not show this client); 4 Kafka unreachable, refusing or timing
out. Messages are in zh-CN unless `--lang en`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, ClassVar, NoReturn
from zoneinfo import ZoneInfo

from aiokafka.errors import KafkaError
from pydantic import ValidationError
from shouwang_contracts.topics import DEAD_LETTER_TOPICS
from shouwang_contracts.vocabulary import DEFAULT_LANGUAGE, Language

from .deadletter_text import argparse_mistake, explained_reason, reason_kind, text
from .kafka.clients import KafkaClients
from .kafka.deadletter_log import (
    DeadLetter,
    DeadLetterLog,
    DeadLetterRefusal,
    check_dead_letter_topic,
    check_replayable,
    parse_positions,
    replay,
    select,
    summarise,
)
from .settings import SharedSettings

EXIT_OK, EXIT_USAGE, EXIT_NO_TOPIC, EXIT_KAFKA = 0, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake in the chosen language, exit status 2."""

    language: ClassVar[Language] = DEFAULT_LANGUAGE

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        mistake = argparse_mistake(message, self.language)
        self.exit(EXIT_USAGE, text("usage_error", self.language, message=mistake) + "\n")


class _Command(_Parser):
    """The whole command line: `list`'s topics may come on either side of its options
    (`list a.dlq --json b.dlq`; argparse takes one run of a list positional and calls the
    rest unrecognized)."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if getattr(parsed, "command", None) == "list":
            parsed.topics += [extra for extra in extras if not extra.startswith("-")]
            extras = [extra for extra in extras if extra.startswith("-")]
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


class _Help(argparse.HelpFormatter):
    """Help whose "usage:" is in the parser's language (section titles are ours)."""

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        # A prefix given (argparse's '' when it names a subcommand's prog) stays as given.
        if prefix is None:
            prefix = text("usage", _Parser.language)
        super().add_usage(usage, actions, groups, prefix)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrap(" ".join(text.split()), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in _wrap(" ".join(text.split()), width))

    def format_help(self) -> str:
        """The help, a section title ending in a full-width colon in zh-CN (argparse's is ':')."""
        shown = super().format_help()
        if _Parser.language == "zh-CN":
            for title in ("arguments", "commands"):
                heading = text(title, "zh-CN")
                shown = shown.replace(f"{heading}:\n", f"{heading}：\n")
        return shown


#: Tokens for wrapping: a run of Latin letters, digits and their punctuation (never broken), a
#: space, or one other character (a Chinese one may end a line anywhere).
_TOKEN = re.compile(r"[!-~]+| |.")
#: What may not begin a line in Chinese (it stays with what is before it), and what may not
#: end one (it stays with what follows).
_NO_LINE_START = set("，。、；：？！）》」』”’")
_NO_LINE_END = set("（《「『“‘")


def _columns(token: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in token)


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` terminal columns, a Chinese character taking two
    (textwrap counts it as one, and breaks Latin words inside a run of Chinese: "KA|FKA_…")."""
    tokens: list[str] = []
    for piece in _TOKEN.findall(text):
        if tokens and (piece in _NO_LINE_START or tokens[-1][-1] in _NO_LINE_END):
            tokens[-1] += piece
        else:
            tokens.append(piece)
    lines: list[str] = []
    line = ""
    for piece in tokens:
        if line and _columns(line + piece) > width:
            lines.append(line.rstrip())
            line = "" if piece == " " else piece
        else:
            line += piece
    return [*lines, line.rstrip()] if line.strip() else lines


def build_parser(language: Language) -> argparse.ArgumentParser:
    """The command line, its help in `language` (every argument in a section we title)."""
    _Parser.language = language
    parser = _Command(
        prog="shouwang-dlq",
        description=text("description", language),
        add_help=False,
        formatter_class=_Help,
    )
    _everywhere(_options(parser, language), language, DEFAULT_LANGUAGE, None)
    commands = parser.add_subparsers(
        title=text("commands", language), dest="command", required=True
    )
    listing = commands.add_parser(
        "list",
        help=text("list", language),
        description=text("list", language),
        add_help=False,
        formatter_class=_Help,
    )
    options = _options(listing, language)
    _everywhere(options, language, argparse.SUPPRESS, argparse.SUPPRESS)
    options.add_argument(
        "topics", nargs="*", metavar="TOPIC.dlq", help=text("list_topics", language)
    )
    options.add_argument("--json", action="store_true", help=text("json", language))
    replaying = commands.add_parser(
        "replay",
        help=text("replay", language),
        description=text("replay", language),
        add_help=False,
        formatter_class=_Help,
    )
    options = _options(replaying, language)
    _everywhere(options, language, argparse.SUPPRESS, argparse.SUPPRESS)
    options.add_argument("topic", metavar="TOPIC.dlq", help=text("replay_topic", language))
    pick = options.add_mutually_exclusive_group(required=True)
    pick.add_argument("--offsets", metavar="P:O[,P:O...]", help=text("offsets", language))
    pick.add_argument("--consumer", metavar="NAME", help=text("consumer", language))
    pick.add_argument("--reason", metavar="TEXT", help=text("reason", language))
    pick.add_argument("--all", action="store_true", help=text("all", language))
    options.add_argument("--dry-run", action="store_true", help=text("dry_run", language))
    return parser


def _everywhere(options: Any, language: Language, lang: str, kafka_user: str | None) -> None:
    """The options of the whole command, which a person also gives after the command: a
    command's copy leaves them unset unless given (`argparse.SUPPRESS`), so it never
    overwrites what was given before the command."""
    options.add_argument(
        "--kafka-user", metavar="NAME", default=kafka_user, help=text("kafka_user_help", language)
    )
    options.add_argument(
        "--lang", choices=["zh-CN", "en"], default=lang, help=text("lang", language)
    )


def _options(parser: argparse.ArgumentParser, language: Language) -> Any:
    """The section every argument of `parser` goes in, starting with its -h."""
    options = parser.add_argument_group(text("arguments", language))
    options.add_argument("-h", "--help", action="help", help=text("help", language))
    return options


def chosen_language(argv: Sequence[str]) -> Language:
    """`--lang` as given (before the parser that speaks it is built); one it does not know is
    the default's, and that parser then says, in it, which languages there are."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang", default=DEFAULT_LANGUAGE)
    known, _ = early.parse_known_args(argv)
    language: Language = known.lang if known.lang in ("zh-CN", "en") else DEFAULT_LANGUAGE
    return language


class _Settings(SharedSettings):
    """Only the Kafka part is used: the tool runs in any service's pod, whichever keys it has."""

    SECRETS_IN_USE = frozenset[str]()


async def run(argv: Sequence[str], clients: KafkaClients, zone: ZoneInfo) -> int:
    """Parse `argv` and do it with `clients`; returns the exit status."""
    language = chosen_language(argv)
    args = build_parser(language).parse_args(argv)
    try:
        if args.command == "list":
            return await _list(args, clients, zone, language)
        return await _replay(args, clients, language)
    except DeadLetterRefusal as refusal:
        _say(text(refusal.code, language, **refusal.details))
        return EXIT_NO_TOPIC if refusal.code == "no_such_topic" else EXIT_USAGE
    except BrokenPipeError:
        raise  # the reader stopped reading (`… | head`), not Kafka: main() ends quietly
    except (KafkaError, TimeoutError, OSError) as exc:
        _say(text("kafka", language, message=str(exc) or type(exc).__name__))
        if args.command == "replay" and not args.dry_run:
            _say(text("kafka_replay", language))
        return EXIT_KAFKA


async def _list(
    args: argparse.Namespace, clients: KafkaClients, zone: ZoneInfo, language: Language
) -> int:
    topics = list(args.topics) or [spec.name for spec in DEAD_LETTER_TOPICS.values()]
    for topic in topics:
        check_dead_letter_topic(topic)
    found: dict[str, list[DeadLetter]] = {}
    async with DeadLetterLog(clients) as log:
        log.check_exists(topics)
        for topic in topics:
            found[topic] = await log.read(topic)
    everything = [x for letters in found.values() for x in letters]
    summary = summarise(everything)
    if args.json:
        print(
            json.dumps(
                {
                    "topics": {t: len(letters) for t, letters in found.items()},
                    "records": [
                        x.describe(zone) | {"reason_kind": reason_kind(x.reason)}
                        for x in everything
                    ],
                    "summary": [
                        {
                            "topic": t,
                            "consumer": c,
                            "reason": r,
                            "reason_kind": reason_kind(r),
                            "count": n,
                        }
                        for t, c, r, n in summary
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    for topic, letters in found.items():
        print(text("topic_count", language, topic=topic, count=len(letters)))
        for letter in letters:
            print(text("record", language, **_shown(letter.describe(zone), letter)))
            explained = explained_reason(letter.reason, language)
            print(text("record_reason", language, explained=explained))
            print(text("record_technical", language, reason=letter.reason or "-"))
    print(text("summary", language))
    for topic, consumer, reason, count in summary:
        print(
            text(
                "summary_line",
                language,
                topic=topic,
                consumer=consumer or "-",
                explained=explained_reason(reason, language),
                reason=reason or "-",
                count=count,
            )
        )
    return EXIT_OK


async def _replay(args: argparse.Namespace, clients: KafkaClients, language: Language) -> int:
    check_dead_letter_topic(args.topic)
    positions = parse_positions(args.offsets) if args.offsets else None
    async with DeadLetterLog(clients) as log:
        letters = await log.read(args.topic)
        chosen = select(letters, positions=positions, consumer=args.consumer, reason=args.reason)
        check_replayable(chosen, log)
    if not chosen:
        _say(text("none_chosen", language))
        return EXIT_OK
    if args.dry_run:
        for letter in chosen:
            print(text("would_replay", language, **_shown(letter.describe(), letter)))
        print(text("dry_run_done", language, count=len(chosen)))
        return EXIT_OK
    count = await replay(clients, chosen)
    print(text("replayed", language, count=count))
    return EXIT_OK


def _shown(described: dict[str, Any], letter: DeadLetter) -> dict[str, Any]:
    """`describe()`'s fields as a line shows them (a dash for what is unknown)."""
    source = f"{letter.source_topic or '-'}[{_dash(letter.source_partition)}]@{_dash(letter.source_offset)}"
    return {key: _dash(value) for key, value in described.items()} | {
        "position": letter.position,
        "source": source,
        "campus": _dash(letter.campus_id),
    }


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: settings from the environment, as the services read them."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    # The client's own log lines would repeat, in English, what the one message says.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    language = chosen_language(arguments)
    args = build_parser(language).parse_args(arguments)  # usage and help need no settings
    try:
        settings = _Settings()
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        _say(text("settings", language, message=problems))
        return EXIT_USAGE
    clients = settings.kafka_clients("dlq")
    if args.kafka_user:
        security = settings.kafka_security()
        password = sys.stdin.readline().rstrip("\r\n")
        if not security.uses_sasl or not password:
            _say(text("kafka_user", language))
            return EXIT_USAGE
        as_user = replace(security, username=args.kafka_user, password=password)
        clients = replace(clients, security=as_user)
    try:
        status = asyncio.run(run(arguments, clients, ZoneInfo(settings.timezone)))
        sys.stdout.flush()
    except BrokenPipeError:
        # `shouwang-dlq list | head`: what was read was shown, and nothing is wrong with Kafka
        # (this once said "无法完成 Kafka 操作：Broken pipe", status 4). Python's own flush at
        # exit would fail again: stdout goes nowhere from here on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return status


if __name__ == "__main__":
    sys.exit(main())
