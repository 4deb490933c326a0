"""What `up` does once its services are ready: the demo campus, its sign-ins, and the map.

`load_demo_campus` feeds the demo campus's roster and contacts through the services' import
APIs, `seed_demo_accounts` has the gateway make a sign-in per role, and `where_everything_is`
prints what a newcomer needs to find their way around the running platform.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from . import demo
from .console import say
from .demo import DEMO_CAMPUS, DEMO_PEOPLE, DemoClient, samples_dir, token_command
from .stack import GATEWAY, Stack

DEMO_ACCOUNTS_FILE = "demo-accounts.json"


def load_demo_campus(stack: Stack) -> None:
    """The demo campus from `samples/` through casework's and notify's import APIs."""
    running = {proc.name for proc in stack.services}
    if not {"casework", "notify"} <= running:
        say("demo campus: not loaded (needs casework and notify)")
        return
    client = DemoClient(
        secret=stack.secrets["SHOUWANG_JWT_SECRET"],
        urls={proc.name: proc.base_url for proc in stack.services},
        data=stack.data,
    )
    try:
        for line in demo.load_demo_campus(client, samples_dir(stack.root)):
            say(f"demo campus `{DEMO_CAMPUS}`: {line}")
    finally:
        client.close()


def where_everything_is(stack: Stack) -> None:
    """The map a newcomer needs: APIs and their docs, sinks, tokens, data."""
    say("where everything is:")
    for proc in stack.services:
        docs = "" if proc.name == GATEWAY else f"  (docs {proc.base_url}/docs)"
        say(f"  {proc.name:<9} {proc.base_url}{docs}")
    if stack.sinks is not None:
        say(
            f"  mail      {stack.sinks.mail_dir}/*.eml  (SMTP sink 127.0.0.1:{stack.sinks.smtp_port})"
        )
        say(f"  robots, SMS, webhooks  {stack.sinks.webhooks_dir}/<channel>.jsonl")
    say(f"  logs      {stack.data / 'logs'}/<service>.log")
    say(f"  secrets   {stack.data / 'local.env'}")
    say("a token per demo role (as `Authorization: Bearer $TOKEN`):")
    for role in DEMO_PEOPLE:
        say(f"  {role.value:<24} {token_command(role)}")
    say("play a term against it: `make demo` (in another terminal)")


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
    done = subprocess.run(
        command,
        env=gateway.full_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        say(f"demo accounts: not created ({done.stderr.strip()[-300:]})")
        return
    say(f"web app: {gateway.base_url}  (demo campus `demo`; local passwords, never for production)")
    for line in done.stdout.splitlines():
        say(line)


def _console_script(name: str) -> list[str]:
    """A console script next to this interpreter (the workspace's venv)."""
    return [str(Path(sys.executable).parent / name)]
