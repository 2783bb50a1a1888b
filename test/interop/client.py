#!/usr/bin/python3
"""An independent Shoal client, written from docs/subprotocol.md alone, with
Debian's python3-websockets and python3-msgpack.

    /usr/bin/python3 test/interop/client.py ws://127.0.0.1:9001/

It runs against the integration test app (test/integration/apps/shoal-test-app.ts):
RPC and pub/sub on both subprotocols, plus the bad-input closes. It prints one
JSON object per check on stdout and exits 0 when it ran to the end (the
calling test decides whether the values are right).
"""
import asyncio
import itertools
import json
import sys

import msgpack
import websockets

MSGPACK = "v1.msgpack.shoal.dev"
JSON_PROTOCOL = "v1.json.shoal.dev"
EVENT, REQUEST, REPLY, ERROR, PUBLICATION = 0, 1, 2, 3, 4


def report(check, **values):
    print(json.dumps({"check": check, **values}, sort_keys=True), flush=True)


class ShoalError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.data = code, message, data


class Client:
    """spec §4, §9: a counter for request ids, replies matched by id, publications by topic."""

    def __init__(self, ws):
        self.ws = ws
        self.binary = ws.subprotocol == MSGPACK
        self.ids = itertools.count(1)
        self.pending = {}
        self.events = asyncio.Queue()
        self.publications = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url, protocol):
        ws = await websockets.connect(url, subprotocols=[protocol], max_size=2**24)
        # spec §1: the server selects exactly one of the offered names, or none.
        if ws.subprotocol != protocol:
            await ws.close()
            raise RuntimeError(f"server selected {ws.subprotocol!r}, not {protocol!r}")
        return cls(ws)

    def encode(self, value):
        # spec §2: one msgpack value per binary message, or one JSON value per text message.
        return msgpack.packb(value, use_bin_type=True) if self.binary else json.dumps(value)

    def decode(self, message):
        if self.binary:
            if isinstance(message, str):
                raise ValueError("text message on the msgpack protocol")
            return msgpack.unpackb(message, raw=False, strict_map_key=False, timestamp=3)
        if isinstance(message, bytes):
            raise ValueError("binary message on the JSON protocol")
        return json.loads(message)

    async def _read(self):
        try:
            async for message in self.ws:
                value = self.decode(message)
                # spec §3: [type, ...] with a fixed number of elements per type.
                if not isinstance(value, list) or not value:
                    raise ValueError("not an envelope")
                kind = value[0]
                if kind == EVENT and len(value) == 3:
                    await self.events.put((value[1], value[2]))
                elif kind == REPLY and len(value) == 3:
                    future = self.pending.pop(value[1], None)
                    if future is not None and not future.done():
                        future.set_result(value[2])
                elif kind == ERROR and len(value) == 3:
                    future = self.pending.pop(value[1], None)
                    body = value[2]
                    if future is not None and not future.done():
                        future.set_exception(ShoalError(body["code"], body["message"], body.get("data")))
                elif kind == PUBLICATION and len(value) == 3:
                    await self.publications.put((value[1], value[2]))
                else:
                    raise ValueError(f"unexpected message {value!r}")
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection lost"))

    async def request(self, method, data=None, timeout=5.0):
        request_id = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        await self.ws.send(self.encode([REQUEST, request_id, method, data]))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(request_id, None)

    async def emit(self, name, data=None):
        await self.ws.send(self.encode([EVENT, name, data]))

    async def next_event(self, timeout=5.0):
        return await asyncio.wait_for(self.events.get(), timeout)

    async def next_publication(self, timeout=5.0):
        return await asyncio.wait_for(self.publications.get(), timeout)

    async def close(self):
        await self.ws.close()
        await self.reader


async def error_of(awaitable):
    try:
        await awaitable
    except ShoalError as error:
        return {"code": error.code, "message": error.message, "data": error.data}
    return None


async def close_code_after(url, protocol, raw_message):
    """Send one raw message and report how the server closed (spec §6)."""
    async with websockets.connect(url, subprotocols=[protocol]) as ws:
        await ws.send(raw_message)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as closed:
            return {"code": closed.rcvd.code if closed.rcvd else None, "reason": closed.rcvd.reason if closed.rcvd else None}


async def main(url):
    a = await Client.connect(url, MSGPACK)
    b = await Client.connect(url, JSON_PROTOCOL)
    report("protocols", a=a.ws.subprotocol, b=b.ws.subprotocol)
    welcome_a, welcome_b = await a.next_event(), await b.next_event()
    report("welcome", a=welcome_a[0], b=welcome_b[0])

    # RPC on both protocols.
    report("add", msgpack=await a.request("add", {"a": 20, "b": 22}), json=await b.request("add", {"a": 1, "b": 2}))
    sample = {"int": -7, "big": 2**40, "float": 1.5, "text": "héllo ✓", "list": [1, None, True, "x"], "map": {"k": {"n": 1}}}
    report("echo", msgpack=await a.request("echo", sample), json=await b.request("echo", sample))
    report("echo-bytes", value=(await a.request("echo", b"\x00\x01\xff")).hex())
    report("unknown-method", error=await error_of(a.request("nope", 1)))
    report("app-error", error=await error_of(b.request("refuse")))
    report("handler-error", error=await error_of(a.request("boom")))
    report("timeout", error=await error_of(a.request("never")))
    await b.emit("note", {"from": "python"})
    report("event", event=list(await b.next_event()))
    await a.emit("mystery", 1)
    report("unknown-event", event=list(await a.next_event()))

    # Pub/sub: both subscribe, each publishes, both receive both, in order.
    report("subscribe", a=await a.request("$subscribe", "py"), b=await b.request("$subscribe", "py"))
    for i in range(3):
        await a.request("publish", {"topic": "py", "data": {"from": "a", "seq": i}})
    await b.request("publish", {"topic": "py", "data": {"from": "b", "seq": 0}})
    for name, client in (("a", a), ("b", b)):
        received = [await client.next_publication() for _ in range(4)]
        report("publications", client=name, received=[[topic, data] for topic, data in received])
    report("forbidden", error=await error_of(a.request("$subscribe", "forbidden:x")))
    report("unsubscribe", first=await b.request("$unsubscribe", "py"), second=await b.request("$unsubscribe", "py"))
    await a.close()
    await b.close()

    # Bad input: the connection is closed with the documented code.
    report("text-on-msgpack", close=await close_code_after(url, MSGPACK, '[1,1,"add",null]'))
    report("binary-on-json", close=await close_code_after(url, JSON_PROTOCOL, b"\x93\x00\xa1x\xc0"))
    report("not-msgpack", close=await close_code_after(url, MSGPACK, b"\x94\x01"))
    report("not-an-envelope", close=await close_code_after(url, MSGPACK, msgpack.packb({"type": 1})))
    report("done")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
