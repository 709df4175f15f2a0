"""The case chat across two real ASGI processes (uvicorn) sharing the channels-redis pub/sub layer.

The case and its people are made in this process and committed (transactional database); two
``uvicorn odr.asgi:application`` processes serve it from the test database and the test Redis database
(``asgi_servers``). Websocket clients (the ``websockets`` package) authenticate with a single-use ticket
from ``POST /api/v1/ws-ticket/`` (DRF token) and send the Origin of the server they connect to.
"""

import asyncio
import json
import random
import time
import urllib.error
import urllib.request

import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from mediation.models import ChatMessage
from tests.factories import Cast, case_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Messages each participant sends in the main test; the chat's rate limit is raised for it.
EACH = 50
WAIT = 30  # seconds for every expected message to arrive


# --- helpers -----------------------------------------------------------------------------------
def http(server, token: str, method: str, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 (our own server)
        server.url + path,
        method=method,
        headers={"Authorization": f"Token {token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def token_of(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


class Client:
    """One participant's websocket to one room on one server; it keeps everything it receives."""

    def __init__(self, name: str, server, token: str, case_id, room: str = "joint"):
        self.name, self.server, self.token, self.case_id, self.room = name, server, token, case_id, room
        self.events: list[dict] = []
        self.ws = None
        self.reader = None

    @property
    def messages(self) -> list[dict]:
        return [e for e in self.events if e["type"] == "message"]

    @property
    def errors(self) -> list[dict]:
        return [e for e in self.events if e["type"] == "error"]

    def uri(self, ticket: str) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws/cases/{self.case_id}/chat/{self.room}/?ticket={ticket}"

    async def connect(self, server=None) -> "Client":
        self.server = server or self.server
        status, body = await asyncio.to_thread(http, self.server, self.token, "POST", "/api/v1/ws-ticket/")
        assert status == 201, body
        self.ws = await connect(self.uri(body["ticket"]), origin=self.server.url, proxy=None, open_timeout=10)
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self):
        try:
            async for raw in self.ws:
                self.events.append(json.loads(raw))
        except ConnectionClosed:
            pass  # closed without a close frame: the test looks at ``self.ws.close_code``

    async def send(self, body: str) -> None:
        await self.ws.send(json.dumps({"type": "message", "body": body}))

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


async def until(condition, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def ids(messages) -> list[int]:
    return [m["id"] for m in messages]


def stored(case, room: str) -> list[tuple[int, str]]:
    return list(ChatMessage.objects.filter(case=case, room=room).order_by("id").values_list("id", "body"))


# --- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def chat(service_env):
    """A case in mediation with its mediator, and the tokens of its three participants."""
    cast = Cast.make()
    case = case_in("mediation", cast)
    assert case.mediator_id == cast.mediator.pk
    tokens = {name: token_of(getattr(cast, name)) for name in ("consumer", "merchant", "mediator")}
    return cast, case, tokens


@pytest.fixture
def two_servers(asgi_servers):
    # The chat allows 20 messages a user in 10 s; the tests send faster than people do.
    return asgi_servers.start("a", "b", ODR_CHAT_RATE="1000")


async def burst(clients, each: int = EACH, seed: int = 7) -> None:
    """Every client sends ``each`` numbered messages ("consumer #07"), all at the same time, interleaved;
    return once every client has received every message (and a moment more, for duplicates)."""
    rng = random.Random(seed)

    async def send_all(client):
        for n in range(1, each + 1):
            await client.send(f"{client.name} #{n:02d}")
            await asyncio.sleep(rng.uniform(0, 0.01))

    await asyncio.gather(*(send_all(c) for c in clients))
    total = each * len(clients)
    await until(lambda: all(len(c.messages) >= total for c in clients), "every message at every client")
    await asyncio.sleep(0.5)  # a duplicate would arrive meanwhile


async def joint_room(case, tokens, a, b) -> list[Client]:
    """The consumer on process A, the merchant and the mediator on B, all in the joint room and aware of
    each other (each joiner's presence has reached the others) before anyone writes."""
    where = {"consumer": a, "merchant": b, "mediator": b}
    clients = [await Client(n, where[n], tokens[n], case.pk).connect() for n in ("consumer", "merchant", "mediator")]
    await until(
        lambda: all(len({e["author_id"] for e in c.events if e["type"] == "presence"}) == 2 for c in clients),
        "everyone's presence",
    )
    return clients


async def close_all(clients) -> None:
    for c in clients:
        await c.close()


# --- the tests ---------------------------------------------------------------------------------
def test_every_member_gets_every_message_once_and_in_the_same_order_across_processes(chat, two_servers):
    """Consumer on process A, merchant and mediator on B: 3 x 50 messages sent at the same time."""
    cast, case, tokens = chat

    async def scenario():
        clients = await joint_room(case, tokens, *two_servers)
        started = time.monotonic()
        await burst(clients)
        elapsed = time.monotonic() - started
        await close_all(clients)
        return clients, elapsed

    clients, elapsed = asyncio.run(scenario())

    expected = {f"{who} #{n:02d}" for who in ("consumer", "merchant", "mediator") for n in range(1, EACH + 1)}
    rows = stored(case, "joint")
    assert len(rows) == 3 * EACH and {body for _id, body in rows} == expected, "every message is in the database"
    for c in clients:
        assert c.errors == [], f"{c.name} got errors: {c.errors[:3]}"
        got = ids(c.messages)
        assert len(got) == len(set(got)) == 3 * EACH, f"{c.name}: {len(got)} messages, {len(set(got))} distinct"
        assert {(m["id"], m["body"]) for m in c.messages} == set(rows), f"{c.name}: not the stored messages"
        assert {m["room"] for m in c.messages} == {"joint"}
        # Each author's own numbered sequence arrives in the order it was sent.
        for who in ("consumer", "merchant", "mediator"):
            mine = [m["body"] for m in c.messages if m["body"].startswith(who)]
            assert mine == sorted(mine), f"{c.name} got {who}'s messages out of order"
        assert {m["author_id"] for m in c.messages} == {cast.consumer.pk, cast.merchant.pk, cast.mediator.pk}
    # Everyone sees the room in the same order, whichever process they are on.
    assert ids(clients[0].messages) == ids(clients[1].messages) == ids(clients[2].messages)
    print(f"\n{3 * EACH} messages to 3 clients on 2 processes in {elapsed:.1f} s")


def test_messages_arrive_in_the_order_of_their_ids_across_processes(chat, two_servers):
    cast, case, tokens = chat

    async def scenario():
        clients = await joint_room(case, tokens, *two_servers)
        await burst(clients, seed=11)
        await close_all(clients)
        return clients

    clients = asyncio.run(scenario())

    rows = stored(case, "joint")
    for c in clients:
        got = ids(c.messages)
        swaps = [(x, y) for x, y in zip(got, got[1:], strict=False) if x > y]
        assert got == [row[0] for row in rows], f"{c.name} got {len(swaps)} messages after a higher id: {swaps[:5]}"


def test_a_client_that_reconnects_to_the_other_process_fetches_exactly_what_it_missed(chat, two_servers):
    cast, case, tokens = chat
    a, b = two_servers

    async def scenario():
        consumer = await Client("consumer", a, tokens["consumer"], case.pk).connect()
        merchant = await Client("merchant", b, tokens["merchant"], case.pk).connect()
        mediator = await Client("mediator", a, tokens["mediator"], case.pk).connect()
        await until(lambda: len({e["author_id"] for e in merchant.events if e["type"] == "presence"}) == 2, "presence")
        for n in range(1, 4):
            await consumer.send(f"before #{n}")
        await until(lambda: all(len(c.messages) == 3 for c in (consumer, merchant, mediator)), "the first messages")
        last_seen = consumer.messages[-1]["id"]
        await consumer.close()
        left = {"type": "presence", "author_id": cast.consumer.pk, "status": "left"}
        await until(
            lambda: all(any(left.items() <= e.items() for e in c.events) for c in (merchant, mediator)),
            "the others to see the consumer leave",
        )

        for n in range(1, 11):
            await merchant.send(f"merchant while away #{n}")
            await mediator.send(f"mediator while away #{n}")
        await until(lambda: len(merchant.messages) == 23 and len(mediator.messages) == 23, "the messages meanwhile")

        # Back, on the other process: a new ticket, then the history after the last message it saw.
        await consumer.connect(server=b)
        status, page = await asyncio.to_thread(
            http, b, tokens["consumer"], "GET", f"/api/v1/cases/{case.pk}/messages/?room=joint&after={last_seen}"
        )
        # Live again: the next message reaches it on process B, and its own reaches the others.
        await mediator.send("after the return")
        await until(lambda: len(consumer.messages) == 4, "the message after the return")
        await consumer.send("consumer is back")
        await until(
            lambda: len(consumer.messages) == 5 and all(len(c.messages) == 25 for c in (merchant, mediator)),
            "the consumer's new message",
        )
        await close_all((consumer, merchant, mediator))
        return consumer, merchant, mediator, status, page, last_seen

    consumer, merchant, mediator, status, page, last_seen = asyncio.run(scenario())

    assert status == 200, page
    fetched = page["results"]
    missed_live = merchant.messages[3:23]  # what the others got while the consumer was away
    assert len(fetched) == 20
    assert ids(fetched) == sorted(ids(missed_live)) and all(i > last_seen for i in ids(fetched))
    assert {(m["id"], m["body"]) for m in fetched} == {(m["id"], m["body"]) for m in missed_live}
    assert {m["body"] for m in fetched} == {f"{who} while away #{n}" for who in ("merchant", "mediator")
                                           for n in range(1, 11)}  # fmt: skip
    assert ids(mediator.messages) == ids(merchant.messages)
    # Live, the consumer got only what it was there for: nothing twice, nothing from while it was away.
    assert [m["body"] for m in consumer.messages] == [
        "before #1", "before #2", "before #3", "after the return", "consumer is back",
    ]  # fmt: skip
    assert ids(consumer.messages[3:]) == ids(merchant.messages[23:]) and consumer.messages[3]["id"] > fetched[-1]["id"]
    assert merchant.messages[-1]["body"] == mediator.messages[-1]["body"] == "consumer is back"
    assert all(c.errors == [] for c in (consumer, merchant, mediator))
    assert len(stored(case, "joint")) == 25


def test_caucus_rooms_across_processes_stay_private(chat, two_servers):
    """caucus-merchant: merchant on A, mediator on B; the consumer (caucus-consumer, on A) hears none of it."""
    cast, case, tokens = chat
    a, b = two_servers

    async def scenario():
        merchant = await Client("merchant", a, tokens["merchant"], case.pk, "caucus-merchant").connect()
        mediator = await Client("mediator", b, tokens["mediator"], case.pk, "caucus-merchant").connect()
        consumer = await Client("consumer", a, tokens["consumer"], case.pk, "caucus-consumer").connect()
        mediator_c = await Client("mediator", b, tokens["mediator"], case.pk, "caucus-consumer").connect()
        # Neither party may even connect to the other's caucus, on either process.
        refused = []
        for server in (a, b):
            for name, room in (("consumer", "caucus-merchant"), ("merchant", "caucus-consumer")):
                with pytest.raises(InvalidStatus) as exc:
                    await Client(name, server, tokens[name], case.pk, room).connect()
                refused.append(exc.value.response.status_code)

        for n in range(1, 11):
            await merchant.send(f"merchant caucus #{n}")
            await mediator.send(f"mediator to merchant #{n}")
        await until(lambda: len(merchant.messages) == 20 and len(mediator.messages) == 20, "the caucus messages")
        # Sent after the merchant's caucus: once the consumer has these, a leak would have come too.
        await mediator_c.send("mediator to consumer")
        await until(lambda: len(consumer.messages) == 1, "the mediator's message in the consumer's caucus")
        await consumer.send("consumer to mediator")
        await until(lambda: len(mediator_c.messages) == 2, "the consumer's answer")
        await asyncio.sleep(0.5)
        await close_all((merchant, mediator, consumer, mediator_c))
        return merchant, mediator, consumer, mediator_c, refused

    merchant, mediator, consumer, mediator_c, refused = asyncio.run(scenario())

    assert refused == [403] * 4
    assert ids(merchant.messages) == ids(mediator.messages)
    assert {(m["id"], m["body"]) for m in merchant.messages} == set(stored(case, "caucus-merchant"))
    assert len(set(ids(merchant.messages))) == 20
    assert {m["room"] for m in merchant.messages + mediator.messages} == {"caucus-merchant"}
    assert [m["body"] for m in consumer.messages] == ["mediator to consumer", "consumer to mediator"]
    assert ids(consumer.messages) == ids(mediator_c.messages)
    assert {m["room"] for m in consumer.messages} == {"caucus-consumer"}
    # Presence stays in its room too: the consumer never hears of the merchant.
    assert cast.merchant.pk not in {e.get("author_id") for e in consumer.events}
    assert [body for _id, body in stored(case, "caucus-consumer")] == ["mediator to consumer", "consumer to mediator"]
    assert len(stored(case, "caucus-merchant")) == 20
    # Nor over HTTP, on either process.
    for server in (a, b):
        status, _body = http(
            server, tokens["consumer"], "GET", f"/api/v1/cases/{case.pk}/messages/?room=caucus-merchant"
        )
        assert status == 403


def test_an_idle_connection_stays_open(chat, asgi_servers):
    cast, case, tokens = chat
    (a,) = asgi_servers.start("a")

    async def scenario():
        consumer = await Client("consumer", a, tokens["consumer"], case.pk).connect()
        await asyncio.sleep(8)  # nothing said for longer than the channel layer's 5 s wait
        dropped = consumer.reader.done()
        if not dropped:
            await consumer.send("still here")
            await until(lambda: len(consumer.messages) == 1, "the message after the quiet", timeout=10)
            await consumer.close()
        return dropped, consumer.ws.close_code

    dropped, code = asyncio.run(scenario())
    errors = [line for line in a.output(20_000).splitlines() if "Error:" in line]
    assert not dropped, f"the server dropped the idle websocket (code {code}); its log says {errors[-2:]}"


def test_a_member_whose_connection_drops_while_the_room_talks_is_seen_to_leave(chat, two_servers):
    """The mediator's connection to A is cut (no close frame) while the parties, on B, keep talking: the
    parties see the mediator leave, every message still reaches them, and neither server logs an error."""
    cast, case, tokens = chat
    a, b = two_servers

    async def scenario():
        consumer = await Client("consumer", b, tokens["consumer"], case.pk).connect()
        merchant = await Client("merchant", b, tokens["merchant"], case.pk).connect()
        mediator = await Client("mediator", a, tokens["mediator"], case.pk).connect()
        await until(lambda: len({e["author_id"] for e in consumer.events if e["type"] == "presence"}) == 2, "presence")

        async def talk(client):
            for n in range(1, 31):
                await client.send(f"{client.name} #{n:02d}")
                await asyncio.sleep(0.005)

        talking = asyncio.gather(talk(consumer), talk(merchant))
        await until(lambda: len(mediator.messages) >= 5, "the talk to reach the mediator")
        mediator.ws.transport.abort()  # the network drops it: no close frame
        await talking
        left = {"type": "presence", "author_id": cast.mediator.pk, "status": "left"}
        await until(
            lambda: all(any(left.items() <= e.items() for e in c.events) for c in (consumer, merchant)),
            "the parties to see the mediator leave",
        )
        await until(lambda: len(consumer.messages) == 60 and len(merchant.messages) == 60, "every message")
        await close_all((consumer, merchant))
        return consumer, merchant

    consumer, merchant = asyncio.run(scenario())

    assert ids(consumer.messages) == ids(merchant.messages) == sorted(ids(consumer.messages))
    assert len(stored(case, "joint")) == 60
    for server in (a, b):
        assert "Traceback" not in server.log.read_text(errors="replace"), server.output()
