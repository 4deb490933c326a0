"""What `up` does once its services are ready: the demo campus, its sign-ins, and the map.

`load_demo_campus` feeds the demo campus's roster and contacts through the services' import
APIs, `seed_demo_accounts` has the gateway make a sign-in per role, and `where_everything_is`
prints what a newcomer needs to find their way around the running platform.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shouwang_contracts.vocabulary import LANGUAGE_ENV

from . import demo
from .console import say
from .demo import DEMO_CAMPUS, DEMO_PEOPLE, DemoClient, samples_dir, token_command
from .stack import GATEWAY, Stack
from .words import language, text

DEMO_ACCOUNTS_FILE = "demo-accounts.json"


def load_demo_campus(stack: Stack) -> None:
    """The demo campus from `samples/` through casework's and notify's import APIs."""
    running = {proc.name for proc in stack.services}
    if not {"casework", "notify"} <= running:
        say(text("campus_not_loaded"))
        return
    client = DemoClient(
        secret=stack.secrets["SHOUWANG_JWT_SECRET"],
        urls={proc.name: proc.base_url for proc in stack.services},
        data=stack.data,
    )
    try:
        for line in demo.load_demo_campus(client, samples_dir(stack.root)):
            say(text("campus_line", campus=DEMO_CAMPUS, line=line))
    finally:
        client.close()


def where_everything_is(stack: Stack) -> None:
    """The map a newcomer needs: APIs and their docs, sinks, tokens, data."""
    lang = language()
    say(text("map", lang))
    for proc in stack.services:
        docs = "" if proc.name == GATEWAY else text("map_docs", lang, url=proc.base_url)
        say(text("map_service", lang, name=proc.name, url=proc.base_url, docs=docs))
    if stack.sinks is not None:
        sinks = stack.sinks
        say(text("map_mail", lang, mail_dir=sinks.mail_dir, port=sinks.smtp_port))
        say(text("map_webhooks", lang, webhooks_dir=sinks.webhooks_dir))
    say(text("map_logs", lang, logs_dir=stack.data / "logs"))
    say(text("map_secrets", lang, path=stack.data / "local.env"))
    say(text("map_tokens", lang))
    for role in DEMO_PEOPLE:
        command = token_command(role)
        say(text("map_token", lang, role=role.value, command=command, label=role.label(lang)))
    say(text("map_demo", lang))


def seed_demo_accounts(stack: Stack) -> None:
    """The demo campus's sign-ins (one per role), fresh passwords printed here only.

    The gateway's own CLI writes them (argon2id hashes in its database) and to the data
    dir's `demo-accounts.json` (mode 0600) for tests that sign in as someone.
    """
    gateway = next((p for p in stack.services if p.name == GATEWAY), None)
    if gateway is None:
        return
    command = [*_console_script("shouwang-gateway-accounts"), "seed-demo"]
    command += ["--passwords-json", str(stack.data / DEMO_ACCOUNTS_FILE)]
    # The gateway's CLI prints each sign-in in the language `up` speaks (SHOUWANG_LANG).
    done = subprocess.run(
        command,
        env={**gateway.full_env(), LANGUAGE_ENV: language()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        say(text("accounts_failed", detail=done.stderr.strip()[-300:]))
        return
    say(text("web_app", url=gateway.base_url))
    for line in done.stdout.splitlines():
        say(line)


def _console_script(name: str) -> list[str]:
    """A console script next to this interpreter (the workspace's venv)."""
    return [str(Path(sys.executable).parent / name)]
