"""Load generator for the chat benchmark (``bench_chat``): one process, every websocket of every room.

Reads a plan (JSON): ``{"rooms": [size, ...], "conns": [[url, room, sender], ...]}``; in each url
``{port_a}`` and ``{port_b}`` stand for the two servers' ports (both the same port for the one-process
ceiling). Opens every connection (64 handshakes at a time), waits until the connect-time traffic (the
platform's presence events) has been quiet for a second, then runs ``--repeat`` times, on the same
connections:

* ``max``: closed loop, ``--inflight`` messages always under way, taken from every sender in turn: the
  most deliveries a second the server gives, and the latency at that load;
* ``half`` (with ``--paced-fraction``): open loop, every sender at the same fixed rate (random phase),
  offering that share of this run's ``max`` deliveries a second;
* ``target`` (with ``--paced-rate``): open loop offering that many deliveries a second.

A paced phase stops early, marked overloaded, once a message is ``--guard`` seconds late or a tenth of a
second's worth of messages is under way (the server is not keeping up; the backlog stays small enough to
work off). After each phase the generator waits (``--drain``) for the deliveries still under way, then
until the ``--pids`` (the servers) are idle, and reads their VmRSS.

Each message's body carries its phase, connection, sequence number and ``time.monotonic()`` at sending
(one process, one clock), padded to a chat-like 80 characters. A delivery is a ``message`` event at any
member, the sender's own copy included (both servers send it). The JSON printed on the last line of
stdout holds, per phase: messages sent, deliveries expected and received, deliveries a second within the
phase's window, and latency percentiles (ms) over every delivery of the phase's messages.
"""

import argparse
import asyncio
import contextlib
import gc
import heapq
import itertools
import json
import math
import os
import random
import sys
import time
from collections import deque
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

PAD = 80


def pct(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Phase:
    def __init__(self, index: int, name: str):
        self.index, self.name = index, name
        self.sent = self.expected = self.received = self.in_window = self.echoed = self.echoed_in_window = 0
        self.latencies: list[float] = []
        self.t0 = self.t1 = 0.0
        self.open = False
        self.aborted_after: float | None = None
        self.offered: float | None = None

    def report(self, window: float) -> dict:
        lat = sorted(self.latencies)
        ms = [None if v is None else round(v * 1000, 2) for v in (pct(lat, 0.5), pct(lat, 0.95), pct(lat, 0.99))]
        return {
            "phase": self.name,
            "window_s": round(window, 3),
            "offered_deliveries_per_s": None if self.offered is None else round(self.offered, 1),
            "sent": self.sent,
            "expected": self.expected,
            "received": self.received,
            "lost": self.expected - self.received,
            "deliveries_per_s": round(self.in_window / window, 1) if window > 0 else 0.0,
            "messages_per_s": round(self.echoed_in_window / window, 1) if window > 0 else 0.0,
            "p50_ms": ms[0],
            "p95_ms": ms[1],
            "p99_ms": ms[2],
            "max_ms": round(lat[-1] * 1000, 2) if lat else None,
            "overloaded": self.aborted_after is not None,
            "aborted_after_s": self.aborted_after,
        }


class Conn:
    __slots__ = ("index", "url", "room", "sender", "size", "ws", "seq", "outstanding", "reader")

    def __init__(self, index, url, room, sender, size):
        self.index, self.url, self.room, self.sender, self.size = index, url, room, sender, size
        self.ws = None
        self.seq = 0
        self.outstanding: deque = deque()  # (seq, sent_at) of own messages not yet come back
        self.reader = None


class Loadgen:
    def __init__(self, plan: dict, port_a: int, port_b: int):
        sizes = plan["rooms"]
        self.conns = [
            Conn(i, url.format(port_a=port_a, port_b=port_b), room, bool(sender), sizes[room])
            for i, (url, room, sender) in enumerate(plan["conns"])
        ]
        self.senders = [c for c in self.conns if c.sender]
        self.phases: list[Phase] = []
        self.current: Phase | None = None
        self.last_event = time.monotonic()
        self.other_events = 0
        self.errors: dict[str, int] = {}
        self.closed_early = 0
        self.waiters: dict[tuple[int, int], asyncio.Future] = {}
        self.live = [0] * len(plan["rooms"])  # open connections a room has: a message's expected deliveries
        self.closing = False

    # --- connections ---------------------------------------------------------------------------
    async def open_all(self, concurrency: int = 64) -> tuple[int, list[str]]:
        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []

        async def one(c: Conn):
            async with gate:
                try:
                    c.ws = await connect(
                        c.url, proxy=None, compression=None, open_timeout=120, ping_interval=None, max_queue=None
                    )
                except Exception as exc:  # noqa: BLE001 -- reported, not raised
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
                    return
                self.live[c.room] += 1
                c.reader = asyncio.create_task(self.read(c))

        await asyncio.gather(*(one(c) for c in self.conns))
        return len(self.conns) - len(failures), failures

    async def close_all(self) -> None:
        self.closing = True

        async def one(c: Conn):
            if c.ws is not None:
                with contextlib.suppress(Exception):  # closing anyway
                    await asyncio.wait_for(c.ws.close(), 10)

        await asyncio.gather(*(one(c) for c in self.conns))
        for c in self.conns:
            if c.reader is not None:
                c.reader.cancel()

    async def read(self, c: Conn) -> None:
        phases = self.phases
        try:
            async for raw in c.ws:
                now = time.monotonic()
                self.last_event = now
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "message":
                    parts = event["body"].split("|", 4)
                    phase = phases[int(parts[0])]
                    phase.received += 1
                    phase.latencies.append(now - float(parts[3]))
                    current = self.current
                    if current is not None and current.open:
                        current.in_window += 1
                    if int(parts[1]) == c.index:
                        phase.echoed += 1
                        if current is not None and current.open:
                            current.echoed_in_window += 1
                        if c.outstanding:
                            c.outstanding.popleft()
                        waiter = self.waiters.pop((c.index, int(parts[2])), None)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)
                elif kind == "error":
                    code = (event.get("error") or {}).get("code", "?")
                    self.errors[code] = self.errors.get(code, 0) + 1
                    if c.outstanding:  # the server refused our message: it will not come back
                        seq, _at = c.outstanding.popleft()
                        if self.current is not None:
                            self.current.expected -= self.live[c.room]
                            self.current.echoed += 1
                        waiter = self.waiters.pop((c.index, seq), None)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)
                else:
                    self.other_events += 1
        except ConnectionClosed:
            pass
        if not self.closing:  # the server closed it: its room has one member fewer from now on
            self.closed_early += 1
            self.live[c.room] -= 1
            c.ws = None

    async def settle(self, quiet: float = 1.0, limit: float = 60.0) -> float:
        """Until nothing has arrived for ``quiet`` seconds (the presence storm of the connects is over)."""
        start = time.monotonic()
        while time.monotonic() - self.last_event < quiet and time.monotonic() - start < limit:
            await asyncio.sleep(0.1)
        return time.monotonic() - start

    # --- sending -------------------------------------------------------------------------------
    async def send(self, c: Conn, phase: Phase, waiter: asyncio.Future | None = None, at: float | None = None) -> None:
        """Send one message; its latency counts from ``at`` (a paced message's due time: the generator's own
        lateness counts against the server too, never hides) or from now. Not counted if the socket closed."""
        c.seq += 1
        if waiter is not None:
            self.waiters[(c.index, c.seq)] = waiter
        stamp = time.monotonic() if at is None else at
        head = f"{phase.index}|{c.index}|{c.seq}|{stamp:.6f}|"
        c.outstanding.append((c.seq, stamp))
        members = self.live[c.room]
        phase.sent += 1
        phase.expected += members
        try:
            await c.ws.send(json.dumps({"type": "message", "body": head + "x" * max(0, PAD - len(head))}))
        except ConnectionClosed:
            c.outstanding.pop()
            phase.sent -= 1
            phase.expected -= members
            self.waiters.pop((c.index, c.seq), None)
            raise

    def new_phase(self, name: str) -> Phase:
        # What earlier phases left (their latencies, the connections) is set aside from the garbage
        # collector: a full collection over it paused this process for ~100 ms at a phase's start,
        # delaying its sends and reads, and the servers' latency would carry the generator's pause.
        gc.collect()
        gc.freeze()
        phase = Phase(len(self.phases), name)
        self.phases.append(phase)
        for c in self.conns:
            c.outstanding.clear()
        return phase

    async def drain(self, phase: Phase, limit: float) -> None:
        deadline = time.monotonic() + limit
        while phase.received < phase.expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)

    async def run_max(self, name: str, duration: float, drain: float, inflight: int) -> dict:
        """Closed loop: ``inflight`` messages always under way, taken from the senders in turn (all rooms)."""
        phase = self.new_phase(name)
        stop = asyncio.Event()
        live = [c for c in self.senders if c.ws is not None]
        order = itertools.cycle(random.sample(live, len(live)))
        loop_ = asyncio.get_running_loop()

        async def token():
            await asyncio.sleep(random.random() * 0.05)
            while not stop.is_set():
                c = next(order)
                if c.ws is None:  # closed by the server meanwhile
                    await asyncio.sleep(0)
                    continue
                waiter = loop_.create_future()
                try:
                    await self.send(c, phase, waiter)
                    await asyncio.wait_for(waiter, timeout=60)
                except (TimeoutError, ConnectionClosed):
                    return

        self.current, phase.t0, phase.open = phase, time.monotonic(), True
        tasks = [asyncio.create_task(token()) for _ in range(inflight)]
        await asyncio.sleep(duration)
        phase.open, phase.t1 = False, time.monotonic()
        stop.set()
        await self.drain(phase, drain)
        for t in tasks:
            t.cancel()
        self.waiters.clear()
        return phase.report(phase.t1 - phase.t0)

    async def run_paced(self, name: str, rate: float, duration: float, drain: float, guard: float) -> dict:
        """Open loop at ``rate`` deliveries a second over all rooms (every sender at the same message rate).

        Stops early (overloaded) when a message is ``guard`` seconds late or more than a tenth of a second's
        worth of messages (at least 32) are under way: the server is not keeping up, and the backlog it
        would build must stay small enough to drain before the next phase."""
        phase = self.new_phase(name)
        live = [c for c in self.senders if c.ws is not None]
        per_sender = rate / max(1, sum(c.size for c in live))  # messages a second each
        phase.offered = rate
        stop = asyncio.Event()
        period = 1.0 / per_sender if per_sender > 0 else duration
        cap = max(32, per_sender * len(live) * 0.1)  # Little: more under way means a mean latency > 100 ms

        async def pace():
            # One task sends every sender's messages when due (a heap of the next times): a task a sender
            # took ~100 ms of this process's time just to start, delaying the phase's first messages.
            due = [(phase.t0 + random.random() * period, n) for n in range(len(live))]
            heapq.heapify(due)
            while not stop.is_set():
                at, n = due[0]
                delay = at - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    continue
                c = live[n]
                if c.ws is None:  # closed by the server: no longer scheduled
                    heapq.heappop(due)
                    if not due:
                        return
                    continue
                heapq.heapreplace(due, (at + period, n))
                with contextlib.suppress(ConnectionClosed):
                    await self.send(c, phase, at=at)

        async def watch():
            while not stop.is_set():
                await asyncio.sleep(0.05)
                now = time.monotonic()
                oldest = min((c.outstanding[0][1] for c in live if c.outstanding), default=now)
                if now - oldest > guard or phase.sent - phase.echoed > cap:
                    phase.aborted_after = round(now - phase.t0, 2)
                    stop.set()

        self.current, phase.t0, phase.open = phase, time.monotonic(), True
        tasks = [asyncio.create_task(pace())]
        watcher = asyncio.create_task(watch())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        stop.set()
        phase.open, phase.t1 = False, time.monotonic()
        await asyncio.gather(*tasks, return_exceptions=True)
        watcher.cancel()
        await self.drain(phase, drain)
        return phase.report(phase.t1 - phase.t0)


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss(pids: list[int]) -> list[float | None]:
    """VmRSS of each server process (MB)."""
    out = []
    for pid in pids:
        try:
            line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
            out.append(round(int(line.split()[1]) / 1024, 1))
        except (OSError, StopIteration):
            out.append(None)
    return out


async def idle(pids: list[int], limit: float = 30.0) -> float:
    """Until the servers use under 10 % of a core over half a second (their backlog is worked off)."""
    start = time.monotonic()
    hz = os.sysconf("SC_CLK_TCK")
    while pids and time.monotonic() - start < limit:
        before = _cpu_ticks(pids)
        await asyncio.sleep(0.5)
        if (_cpu_ticks(pids) - before) / hz < 0.05:
            break
    return round(time.monotonic() - start, 2)


async def main(args) -> dict:
    with open(args.plan) as f:
        plan = json.load(f)
    gen = Loadgen(plan, args.port_a, args.port_b)
    out: dict = {"connections": len(gen.conns), "senders": len(gen.senders), "phases": []}
    start = time.monotonic()
    ok, failures = await gen.open_all()
    out["connected"] = ok
    out["connect_failures"] = failures[:5]
    out["connect_s"] = round(time.monotonic() - start, 2)
    out["settle_s"] = round(await gen.settle(), 2)
    out["connect_events"] = gen.other_events
    try:
        if ok == len(gen.conns) or args.allow_failures:
            for run in range(1, args.repeat + 1):
                result = await gen.run_max(f"max#{run}", args.duration, args.drain, args.inflight)
                result.update(idle_after_s=await idle(args.pids), rss_mb=rss(args.pids))
                out["phases"].append(result)
                if args.paced_fraction:
                    rate = result["deliveries_per_s"] * args.paced_fraction
                    result = await gen.run_paced(f"half#{run}", rate, args.duration, args.drain, args.guard)
                    result.update(idle_after_s=await idle(args.pids), rss_mb=rss(args.pids))
                    out["phases"].append(result)
                if args.paced_rate:
                    result = await gen.run_paced(
                        f"target#{run}", args.paced_rate, args.duration, args.drain, args.guard
                    )
                    result.update(idle_after_s=await idle(args.pids), rss_mb=rss(args.pids))
                    out["phases"].append(result)
    finally:
        out["errors"] = gen.errors
        out["closed_by_server"] = gen.closed_early
        await gen.close_all()
    out["total_s"] = round(time.monotonic() - start, 2)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", required=True)
    parser.add_argument("--port-a", type=int, required=True)
    parser.add_argument("--port-b", type=int, required=True)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of each phase")
    parser.add_argument("--drain", type=float, default=10.0, help="seconds to wait for late deliveries")
    parser.add_argument("--guard", type=float, default=1.0, help="paced: stop when a message is this late (s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the phases on the same connections")
    parser.add_argument("--inflight", type=int, default=64, help="max: messages kept under way")
    parser.add_argument("--pids", type=int, nargs="*", default=[], help="servers to wait for between phases")
    parser.add_argument("--paced-rate", type=float, default=0.0, help="paced phase at this many deliveries/s")
    parser.add_argument("--paced-fraction", type=float, default=0.0, help="paced phase at this share of max")
    parser.add_argument("--allow-failures", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(main(args))
    except ImportError:  # pragma: no cover
        result = asyncio.run(main(args))
    print(json.dumps(result), flush=True)
    sys.exit(0)
