// Relay's web UI: the live view. GET /api/v1/stream (server-sent events) read with fetch(), because EventSource
// cannot send an Authorization header.

import { API, SignedOut, hooks, refusal, session, setLive, sleep } from "./common.js";

// ---------------------------------------------------------------------------------------------------------------
// Server-sent events over fetch().

/// Parses the text/event-stream format (HTML's "server-sent events"): feed it text as it comes; it calls `onEvent`
/// with {type, data, id} for each complete event, and `onRetry` with a reconnection time the server asks for.
export class EventStreamParser {
  constructor(onEvent, onRetry = () => {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = "";
    this.data = [];
    this.type = "";
    this.lastEventId = null;
    this.pendingId = null;
  }

  push(text) {
    this.buffer += text;
    // Lines end with CRLF, LF or CR; a CR at the very end may be the first half of a CRLF, so it waits.
    for (;;) {
      const match = /\r\n|\n|\r(?!$)/.exec(this.buffer);
      if (!match) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") {
      if (this.pendingId !== null) this.lastEventId = this.pendingId;
      if (this.data.length > 0) {
        this.onEvent({ type: this.type || "message", data: this.data.join("\n"), id: this.lastEventId });
      }
      this.data = [];
      this.type = "";
      return;
    }
    if (line.startsWith(":")) return; // a comment (the server's keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data": this.data.push(value); break;
      case "event": this.type = value; break;
      case "id": if (!value.includes("\0")) this.pendingId = value; break;
      case "retry": if (/^\d+$/.test(value)) this.onRetry(Number(value)); break;
      default: break; // unknown fields are ignored
    }
  }
}

/// GET /api/v1/stream, kept open: reconnects after the stream ends or fails, with Last-Event-ID so that no change
/// is missed. `onOpen(resumed)` is called on each connection: not resumed (no event seen yet), the caller loads
/// what it shows, since only changes after that moment will come. `onEvent` gets {type, data (parsed), id}.
export class LiveStream {
  constructor(query, { onOpen, onEvent }) {
    this.query = query;
    this.onOpen = onOpen;
    this.onEvent = onEvent;
    this.controller = new AbortController();
    this.lastEventId = null;
    this.retry = 1000;
    this.failures = 0;
    this.closed = false;
    this.run();
  }

  close() {
    this.closed = true;
    this.controller.abort();
    setLive("off");
  }

  async run() {
    while (!this.closed) {
      try {
        await this.connect();
        this.failures = 0;
      } catch (error) {
        if (this.closed || error instanceof SignedOut) return;
        this.failures += 1;
        setLive("reconnecting", error.message);
      }
      if (this.closed) return;
      setLive("reconnecting");
      // The server's retry (1 s), longer after failures in a row, at most 15 s.
      await sleep(Math.min(this.retry * 2 ** Math.min(this.failures, 4), 15000), this.controller.signal);
    }
  }

  async connect() {
    const headers = { Authorization: "Bearer " + session.token, Accept: "text/event-stream" };
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    const response = await fetch(API + "/stream" + this.query, { headers, signal: this.controller.signal });
    if (response.status === 401) {
      const json = await response.json().catch(() => null);
      if (!this.closed) hooks.signOut(refusal(json));
      throw new SignedOut();
    }
    if (!response.ok || !response.body) throw new Error(`the stream answered HTTP ${response.status}`);
    const resumed = this.lastEventId !== null;
    setLive("live", resumed ? `reconnected after event ${this.lastEventId}` : "", resumed ? this.lastEventId : "");
    const parser = new EventStreamParser(
      (event) => {
        this.lastEventId = event.id ?? this.lastEventId;
        this.dispatch(event);
      },
      (retry) => { this.retry = Math.max(500, retry); });
    this.onOpen(resumed);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.closed) break;
      parser.push(value);
    }
  }

  dispatch(event) {
    let data = null;
    try { data = JSON.parse(event.data); } catch { data = null; }
    if (event.type === "revoked") {
      hooks.signOut("The token was revoked while the page was open.");
      return;
    }
    this.onEvent({ type: event.type, data, id: event.id });
  }
}
