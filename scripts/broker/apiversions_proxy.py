#!/usr/bin/env python3
"""A TCP proxy in front of the test broker (Tansu) that lets librdkafka 2.0.2 talk to it, and read it safely.

Why it exists (docs/kafka.md):
- Tansu answers ApiVersions v3+ with tagged fields, and librdkafka before 2.2.0 mis-skips tagged fields in that
  response ("ApiVersionRequest failed: Local: Read underflow"; fixed upstream in librdkafka PR #4278). Debian 12
  ships librdkafka 2.0.2. The proxy re-encodes ApiVersions (API key 18, version >= 3) responses with empty
  tagged-field sections.
- Tansu stores a produced batch in two steps: it reserves the batch's offsets (raising the high watermark), then
  writes the batch. A fetch between the two for a partition another producer has meanwhile written a later batch
  to finds that later batch and not the earlier one, and the consumer moves past the earlier batch for good: a
  message lost. The proxy forwards one Produce request at a time (over all connections), each once the previous
  one is answered, so a reserved batch is always written before a later one is reserved.
Every other byte passes through unchanged.

Usage: apiversions_proxy.py LISTEN_PORT BROKER_HOST:BROKER_PORT
"""
import asyncio
import struct
import sys

PRODUCE = 0
API_VERSIONS = 18


def read_uvarint(data, pos):
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def skip_tagged_fields(data, pos):
    count, pos = read_uvarint(data, pos)
    for _ in range(count):
        _, pos = read_uvarint(data, pos)
        size, pos = read_uvarint(data, pos)
        pos += size
    return pos


def rewrite_api_versions(body):
    """body: the response after its size prefix (correlation id first; ApiVersions keeps header v0)."""
    out = bytearray(body[:6])  # correlation id, error code
    pos = 6
    length, pos = read_uvarint(body, pos)  # compact array: N + 1
    out += encode_uvarint(length)
    for _ in range(max(length - 1, 0)):
        out += body[pos:pos + 6]  # api key, min version, max version
        pos = skip_tagged_fields(body, pos + 6)
        out.append(0)
    out += body[pos:pos + 4]  # throttle time
    out.append(0)  # no top-level tagged fields
    return bytes(out)


def encode_uvarint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return out


def produce_acks(frame):
    """The acks of a Produce request (frame: after its size prefix), or None if it cannot be read."""
    try:
        api_version = struct.unpack(">h", frame[2:4])[0]
        pos = 8  # api key, api version, correlation id
        client_id_length = struct.unpack(">h", frame[pos:pos + 2])[0]
        pos += 2 + max(client_id_length, 0)
        flexible = api_version >= 9
        if flexible:
            pos = skip_tagged_fields(frame, pos)  # request header v2
        if api_version >= 3:  # transactional id, a nullable string
            if flexible:
                length, pos = read_uvarint(frame, pos)
                pos += max(length - 1, 0)
            else:
                length = struct.unpack(">h", frame[pos:pos + 2])[0]
                pos += 2 + max(length, 0)
        return struct.unpack(">h", frame[pos:pos + 2])[0]
    except (IndexError, struct.error):
        return None


async def read_frame(reader):
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    return await reader.readexactly(size)


class Connection:
    """What one client connection is waiting for: ApiVersions responses to rewrite, and the Produce request it
    holds the produce lock for (acks=0 requests get no response, so they are forwarded without the lock)."""

    def __init__(self, produce_lock):
        self.pending = set()
        self.produce_lock = produce_lock
        self.producing = None

    def release(self):
        if self.producing is not None:
            self.producing = None
            self.produce_lock.release()


async def client_to_broker(reader, writer, connection):
    while True:
        frame = await read_frame(reader)
        api_key, api_version, correlation_id = struct.unpack(">hhi", frame[:8])
        if api_key == API_VERSIONS and api_version >= 3:
            connection.pending.add(correlation_id)
        if api_key == PRODUCE:
            acks = produce_acks(frame)
            if acks is None:
                print("apiversions proxy: a Produce request whose acks cannot be read goes through unserialised",
                      file=sys.stderr)
            elif acks != 0:
                await connection.produce_lock.acquire()
                connection.producing = correlation_id
        writer.write(struct.pack(">i", len(frame)) + frame)
        await writer.drain()


async def broker_to_client(reader, writer, connection):
    pending = connection.pending
    while True:
        frame = await read_frame(reader)
        correlation_id = struct.unpack(">i", frame[:4])[0]
        if correlation_id == connection.producing:
            connection.release()
        if correlation_id in pending:
            pending.discard(correlation_id)
            try:
                frame = rewrite_api_versions(frame)
            except (IndexError, struct.error) as error:
                print(f"apiversions proxy: passing an ApiVersions response through unchanged: {error}",
                      file=sys.stderr)
        writer.write(struct.pack(">i", len(frame)) + frame)
        await writer.drain()


async def serve(listen_port, broker_host, broker_port):
    produce_lock = asyncio.Lock()

    async def handle(client_reader, client_writer):
        try:
            broker_reader, broker_writer = await asyncio.open_connection(broker_host, broker_port)
        except OSError as error:
            print(f"apiversions proxy: cannot reach the broker at {broker_host}:{broker_port}: {error}",
                  file=sys.stderr)
            client_writer.close()
            return
        connection = Connection(produce_lock)
        tasks = [asyncio.ensure_future(client_to_broker(client_reader, broker_writer, connection)),
                 asyncio.ensure_future(broker_to_client(broker_reader, client_writer, connection))]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A connection that goes away while its Produce is unanswered must not keep the others waiting.
        connection.release()
        for writer in (client_writer, broker_writer):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    host, port = sys.argv[2].rsplit(":", 1)
    asyncio.run(serve(int(sys.argv[1]), host, int(port)))
