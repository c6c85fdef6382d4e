// The TypeScript client against the real daemon on a unix socket.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FeedbackKind, Sluice, SluiceError, status, system, user, assistant } from "../src";
import { startDaemon, type RunningDaemon } from "./daemon";

const question = [system("You are terse."), user("What is the capital of France?")];

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("sluice client", () => {
  let daemon: RunningDaemon;
  let client: Sluice;

  before(async () => {
    daemon = await startDaemon();
    client = new Sluice(daemon.target, { timeoutMs: 30_000 });
  });
  after(async () => {
    client?.close();
    await daemon?.stop();
  });

  test("health", async () => {
    assert.equal(await client.health(), true);
    assert.equal(await client.health(""), true);
  });

  test("embed", async () => {
    const resp = await client.embed(["a sluice gate", "a water gate"]);
    assert.equal(resp.embeddings.length, 2);
    assert.ok(resp.dimensions > 0);
    assert.equal(resp.embeddings[0].values.length, resp.dimensions);
    assert.ok(resp.model);
  });

  test("INVALID_ARGUMENT rejects with SluiceError", async () => {
    await assert.rejects(client.embed([]), (err: unknown) =>
      err instanceof SluiceError && err.code === status.INVALID_ARGUMENT);
  });

  test("deadline rejects with DEADLINE_EXCEEDED", async () => {
    await assert.rejects(client.embed(["x"], { timeoutMs: 0.001 }), (err: unknown) =>
      err instanceof SluiceError && err.code === status.DEADLINE_EXCEEDED);
  });

  test("unreachable daemon rejects with UNAVAILABLE", async () => {
    const nowhere = new Sluice(`unix://${daemon.dir}/nothing.sock`, { timeoutMs: 2_000 });
    try {
      await assert.rejects(nowhere.embed(["x"]), (err: unknown) =>
        err instanceof SluiceError && err.code === status.UNAVAILABLE);
    } finally {
      nowhere.close();
    }
  });

  // ---- cache (issue #3)
  test("store then lookup", async () => {
    const namespace = `ts-${Date.now()}`;
    const messages = [user("How tall is the Eiffel tower?")];
    const params = { temperature: 0 };
    assert.equal((await client.lookup({ messages, namespace, params })).hit, false);
    const stored = await client.store({
      messages, namespace, params, answer: assistant("330 metres."), finishReason: "stop",
      model: "fake-small", ttl: { seconds: 300, nanos: 0 },
    });
    assert.ok(stored.entryId);
    const found = await client.lookup({ messages, namespace, params });
    assert.equal(found.hit, true);
    assert.equal(found.entry?.answer?.content, "330 metres.");
    assert.ok(((await client.stats(namespace)).cache?.stores ?? 0) >= 1);
    assert.equal(await client.invalidate({ namespace }), 1);
  });

  // ---- request path (issue #5)
  test("complete against the fake provider", async () => {
    await client.route({ messages: question });
    const resp = await client.complete({ messages: question, requestId: "ts-complete-1", cache: { skipRead: true } });
    assert.equal(resp.requestId, "ts-complete-1");
    assert.ok(resp.message?.content);
    assert.equal(resp.servedBy?.tier, "cheap");
    await client.feedback({ requestId: resp.requestId, kind: FeedbackKind.FEEDBACK_KIND_THUMBS_UP });
  });

  test("streamComplete", async () => {
    const req = { messages: question, cache: { skipRead: true } };
    const chunks = await drain(client.streamComplete(req));
    const last = chunks[chunks.length - 1];
    assert.ok(last.summary);
    assert.equal(chunks.map((c) => c.delta).join(""), last.summary.message?.content);
  });
});
