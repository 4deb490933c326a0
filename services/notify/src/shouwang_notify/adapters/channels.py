"""Channels behind one interface: `Sender.send(Outgoing)` delivers or raises `ChannelFailure`.

What each channel uses, and why:
- SMTP email: aiosmtplib on connections kept open (`smtp.py` says why not Apprise's `mailto://`).
- JSON webhooks (the on-duty line's duty system): a thin httpx client posting the body Apprise's
  `json://` posted (`version`, `title`, `message`, `attachments`, `type`), on kept-alive
  connections. Apprise built a notifier per message (URL parsing, a plugin instance) and sent it
  with `requests` in a thread, on a new connection each time: in a census burst, where every
  critical alert has an on-duty message, that was about half of a sampled profile of notify
  (bench/README.md, `pipeline.py`).
- WeCom and DingTalk group robots: a thin httpx client each. Apprise has both (`wecombot://`,
  `dingtalk://`) but counts any HTTP 200 as delivered, while both robots answer a refused
  message with 200 and a non-zero `errcode` (rate limit, bad key, bad signature), so a lost
  alert would read as sent. Apprise's DingTalk signature is also URL-encoded twice (its
  `get_signature` quotes it and requests quotes the query again), which DingTalk refuses as
  `310000 sign not match`. Our clients check `errcode`, sign once, and @-mention the person
  (`mentioned_list` by WeCom user id, `atMobiles` by mobile), which Apprise's robots cannot.
- SMS: the college's gateway over HTTP (JSON `{to, text}`, bearer token), via httpx.
Every channel's base URL is a setting, so tests and `make up` point them at local receivers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx
from shouwang_contracts.events.notify import NotificationChannel as Channel

logger = logging.getLogger("shouwang.notify.channels")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One rendered message for one address on one channel."""

    channel: Channel
    address: str
    subject: str
    body: str
    short: str  # the SMS-sized text


class ChannelFailure(Exception):
    """The channel did not take the message. `permanent` failures are not retried on this
    channel (a malformed address, a refused key); others back off and try again."""

    def __init__(self, code: str, *, permanent: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.permanent = permanent


class Sender(Protocol):
    """One channel's way out."""

    channel: Channel

    async def send(self, message: Outgoing) -> None: ...


class JsonWebhook:
    """A JSON webhook (the campus duty system, a college integration): POST the message as
    the JSON body Apprise's `json://` sent, so a duty system set up for it reads it unchanged.
    A user and password in the URL become basic authentication. Any answer but 2xx is a
    failure to retry (as it was), never a permanent one: the on-duty line is not given up on a
    4xx its system may answer while it restarts."""

    channel = Channel.WEBHOOK

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._targets: dict[str, tuple[httpx.URL, dict[str, str]]] = {}

    def _target(self, address: str) -> tuple[httpx.URL, dict[str, str]]:
        # One address in practice (the on-duty webhook): parsed once, not per message.
        found = self._targets.get(address)
        if found is None:
            try:
                url = httpx.URL(address)
            except httpx.InvalidURL as exc:
                raise ChannelFailure("bad_address", permanent=True) from exc
            if url.scheme not in ("http", "https") or not url.host:
                raise ChannelFailure("bad_address", permanent=True)
            headers = {}
            if url.username:
                basic = base64.b64encode(f"{url.username}:{url.password}".encode()).decode()
                headers["Authorization"] = f"Basic {basic}"
            found = (url.copy_with(username=None, password=None), headers)
            self._targets[address] = found
        return found

    async def send(self, message: Outgoing) -> None:
        url, headers = self._target(message.address)
        payload = {
            "version": "1.0",
            "title": message.subject,
            "message": message.body,
            "attachments": [],
            "type": "info",
        }
        try:
            response = await self._client.post(url, json=payload, headers=headers)
        except httpx.TimeoutException as exc:
            raise ChannelFailure("timeout") from exc
        except httpx.HTTPError as exc:
            # The exception's text names the host: only its code leaves this function.
            raise ChannelFailure("refused") from exc
        if not 200 <= response.status_code < 300:
            raise ChannelFailure("refused")


class WeComRobot:
    """A WeCom (企业微信) group robot; the person is @-mentioned by their WeCom user id."""

    channel = Channel.WECOM

    def __init__(self, client: httpx.AsyncClient, base_url: str, key: str) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/cgi-bin/webhook/send"
        self._key = key

    async def send(self, message: Outgoing) -> None:
        # The subject first, as on DingTalk: in a group chat it is what says at a glance that
        # this is an alert (and how grave), not 您好，公寓辅导员.
        payload = {
            "msgtype": "text",
            "text": {
                "content": fit_text(f"{message.subject}\n{message.body}", WECOM_TEXT_BYTES),
                "mentioned_list": [message.address],
            },
        }
        await _robot_post(self._client, self._url, {"key": self._key}, payload)


class DingTalkRobot:
    """A DingTalk (钉钉) group robot with 加签; the person is @-mentioned by mobile."""

    channel = Channel.DINGTALK

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, token: str, secret: str | None
    ) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/robot/send"
        self._token = token
        self._secret = secret

    def signed_query(self, now_ms: int | None = None) -> dict[str, str]:
        """access_token, and timestamp + sign when the robot has a secret (DingTalk's 加签:
        base64 of HMAC-SHA256 over `timestamp\\nsecret`, URL-encoded once, by httpx)."""
        query = {"access_token": self._token}
        if self._secret:
            timestamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
            digest = hmac.new(
                self._secret.encode(), f"{timestamp}\n{self._secret}".encode(), hashlib.sha256
            ).digest()
            query |= {"timestamp": timestamp, "sign": base64.b64encode(digest).decode()}
        return query

    async def send(self, message: Outgoing) -> None:
        payload = {
            "msgtype": "text",
            "text": {"content": f"{message.subject}\n{message.body}"},
            "at": {"atMobiles": [message.address], "isAtAll": False},
        }
        await _robot_post(self._client, self._url, self.signed_query(), payload)


#: WeCom's robot takes a text of at most 2048 bytes of UTF-8 (群机器人配置说明,
#: developer.work.weixin.qq.com/document/path/91770) and refuses a longer one: a burst's
#: bundle of a dozen alerts or more ran past it, failed five times and went on SMS instead.
WECOM_TEXT_BYTES = 2048
_CUT = "\n……\n\n"


def fit_text(text: str, limit: int) -> str:
    """`text` within `limit` bytes of UTF-8: whole lines from its start, "……", and its last
    two paragraphs (where a message says where to go on and not to forward it), so a long
    bundle loses its later lines, never its head or its ending (the desk lists them all)."""
    if len(text.encode()) <= limit:
        return text
    paragraphs = text.split("\n\n")
    ending = "\n\n".join(paragraphs[-2:])
    room = limit - len(ending.encode()) - len(_CUT.encode())
    kept: list[str] = []
    for line in "\n\n".join(paragraphs[:-2]).split("\n"):
        room -= len(line.encode()) + 1
        if room < 0:
            break
        kept.append(line)
    if not kept:  # no room for the ending: the start, cut on a character
        return text.encode()[:limit].decode(errors="ignore")
    return "\n".join(kept).rstrip() + _CUT + ending


# Robot errcodes that no retry fixes: a bad key or token, a bad signature, a blocked robot.
_PERMANENT_ROBOT_ERRORS = frozenset({93000, 300001, 310000, 400013, 400102})


async def _robot_post(
    client: httpx.AsyncClient, url: str, query: dict[str, str], payload: Mapping[str, object]
) -> None:
    try:
        response = await client.post(url, params=query, json=payload)
    except httpx.HTTPError as exc:
        raise ChannelFailure("unreachable") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise ChannelFailure(f"http_{response.status_code}")
    if response.status_code >= 400:
        raise ChannelFailure(f"http_{response.status_code}", permanent=True)
    try:
        errcode = int(response.json().get("errcode", 0))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ChannelFailure("bad_response") from exc
    if errcode:
        raise ChannelFailure(f"errcode_{errcode}", permanent=errcode in _PERMANENT_ROBOT_ERRORS)


class SmsGateway:
    """The college's SMS provider behind a plain HTTP gateway: POST `{to, text}` as JSON.

    2xx is accepted; 429 and 5xx are retried; other 4xx are permanent (a refused number).
    """

    channel = Channel.SMS

    def __init__(self, client: httpx.AsyncClient, url: str, token: str | None) -> None:
        self._client = client
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def send(self, message: Outgoing) -> None:
        try:
            response = await self._client.post(
                self._url,
                json={"to": message.address, "text": message.short},
                headers=self._headers,
            )
        except httpx.HTTPError as exc:
            raise ChannelFailure("unreachable") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ChannelFailure(f"http_{response.status_code}")
        if response.status_code >= 400:
            raise ChannelFailure(f"http_{response.status_code}", permanent=True)
