"""The ceiling for the chat benchmark: a bare websocket broadcast server written with ``websockets``.

One process, rooms in memory (keyed by the request path, so the chat's URLs and the load generator work
unchanged; the ``?ticket=`` is ignored). A ``{"type": "message", "body": ...}`` from a member is parsed,
given an id, wrapped like the platform's ``message`` event and sent to every member of its room, the
sender included (as the platform does). No authentication, storage, membership checks or channel layer:
what is left is the websocket and JSON work every chat server has to do. It runs on uvloop when
installed, like uvicorn. Two such processes could not share rooms, so the ceiling is one process (while
the platform runs two behind a channel layer).

Run: ``python bench/ws_ceiling.py --port 8765``; prints ``ready <port>`` once listening.
"""

import argparse
import asyncio
import datetime as dt
import json
import sys

from websockets.asyncio.server import broadcast, serve

ROOMS: dict[str, set] = {}
NEXT_ID = [0]


async def handler(ws) -> None:
    path = ws.request.path.split("?", 1)[0]
    room = ROOMS.setdefault(path, set())
    room.add(ws)
    try:
        async for raw in ws:
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(data, dict) or data.get("type") != "message":
                continue
            NEXT_ID[0] += 1
            event = {
                "type": "message",
                "id": NEXT_ID[0],
                "room": "joint",
                "author": "member",
                "author_id": id(ws) % 100_000,
                "role": "member",
                "body": data.get("body"),
                "sent_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            }
            broadcast(room, json.dumps(event))
    finally:
        room.discard(ws)
        if not room:
            ROOMS.pop(path, None)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None, backlog=2048):
        print(f"ready {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    try:
        runner(main(args.port))
    except KeyboardInterrupt:
        sys.exit(0)
