// The TypeScript client against the real daemon on a unix socket.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FeedbackKind, SERVICE_NAME, Sluice, SluiceError, status, system, user, assistant } from "../src";
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

  // ---- the standard google.rpc details, AbortSignal and deadlines (issue #22)
  test("INVALID_ARGUMENT carries the field violation and the reason", async () => {
    const bad = { messages: [{ role: 0, content: "hi" }], requestId: "ts-1" };
    await assert.rejects(client.complete(bad), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.equal(err.reason, "INVALID_ARGUMENT");
      assert.equal(err.status.domain, "sluice.dev");
      assert.equal(err.status.metadata.request_id, "ts-1");
      assert.deepEqual(err.fieldViolations.map((v) => v.field), ["messages[0].role"]);
      assert.ok(err.fieldViolations[0].description);
      assert.equal(err.retryDelayMs, undefined);
      assert.equal(err.status.sluice?.field, "messages[0].role");
      return true;
    });
  });

  test("an overloaded embedding queue answers with a retry delay", async () => {
    // The test config queues at most 64 texts: of six 64-text calls sent at once the first
    // is admitted and at least one of the rest finds the queue full.
    const texts = Array.from({ length: 64 }, (_, i) => `a sentence about sluice gates number ${i} `.repeat(8));
    let refused: SluiceError[] = [];
    for (let round = 0; round < 5 && refused.length === 0; round++) {
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => client.embed(texts)));
      refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as SluiceError] : []));
    }
    assert.ok(refused.length > 0, "no call was refused: the queue bound did not apply");
    for (const err of refused) {
      assert.equal(err.code, status.RESOURCE_EXHAUSTED);
      assert.equal(err.reason, "OVERLOADED");
      assert.ok((err.retryDelayMs ?? 0) >= 1000, `retry delay ${err.retryDelayMs}`);
    }
  });

  test("an AbortSignal cancels a call in flight and one already aborted", async () => {
    const texts = Array.from({ length: 64 }, (_, i) => `text ${i} `.repeat(50));
    const controller = new AbortController();
    const pending = client.embed(texts, { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, (err: unknown) => err instanceof SluiceError && err.code === status.CANCELLED);
    await assert.rejects(client.health(SERVICE_NAME, { signal: AbortSignal.abort() }), (err: unknown) =>
      err instanceof SluiceError && err.code === status.CANCELLED);
    const stream = client.streamComplete({ messages: question }, { signal: AbortSignal.abort() });
    await assert.rejects(drain(stream), (err: unknown) => err instanceof SluiceError && err.code === status.CANCELLED);
    assert.equal(await client.health(), true, "the client still works after cancelled calls");
  });

  test("a per-call deadline", async () => {
    await assert.rejects(client.embed(["x"], { deadline: new Date(Date.now() - 1) }), (err: unknown) =>
      err instanceof SluiceError && err.code === status.DEADLINE_EXCEEDED);
    // Not embed: the aborted 64-text call above may still hold the embedding queue.
    assert.equal(await client.health(SERVICE_NAME, { deadline: new Date(Date.now() + 30_000) }), true);
  });
});
