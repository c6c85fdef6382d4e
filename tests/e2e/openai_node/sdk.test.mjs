// The official `openai` npm package against Sluice's OpenAI-compatible front.
// It starts nothing: tests/e2e/test_openai_sdks.py starts the daemon and a fake
// provider, then runs `node --test` here with SLUICE_OPENAI_BASE_URL and
// SLUICE_OPENAI_API_KEY (the daemon's bearer token) set.
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { test } from "node:test";

import OpenAI from "openai";

const baseURL = process.env.SLUICE_OPENAI_BASE_URL;
if (!baseURL) throw new Error("set SLUICE_OPENAI_BASE_URL (tests/e2e/test_openai_sdks.py does)");

const apiKey = process.env.SLUICE_OPENAI_API_KEY;
if (!apiKey) throw new Error("set SLUICE_OPENAI_API_KEY (tests/e2e/test_openai_sdks.py does)");

// maxRetries 0: an error status must reach the test, not a retry loop.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });

test("a wrong API key is a 401 AuthenticationError that does not echo the key", async () => {
  const sent = "sk-wrong-node-key-0123456789";
  const wrong = new OpenAI({ baseURL, apiKey: sent, maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError);
    assert.equal(err.status, 401);
    assert.ok(!JSON.stringify(err.error).includes(sent));
    return true;
  });
});

// A digits-only nonce: a hex id such as a UUID's "e7c1" falls apart into single characters,
// which the cache's coverage check counts as an unknown word, and a question with two of
// them is exact-layer only ("skipped"), not "miss". Words without letters are not counted.
const nonce = () => `${Date.now()}${randomInt(1e9)}`;

const ask = (text) => ({ model: "sluice-auto", messages: [{ role: "user", content: text }] });

test("a completion, then the same question served from the cache", async () => {
  const question = `node question ${nonce()}`;
  const first = await client.chat.completions.create(ask(question)).withResponse();
  assert.equal(first.data.choices[0].message.content, `echo: ${question}`);
  assert.equal(first.data.choices[0].finish_reason, "stop");
  assert.equal(first.data.model, "gpt-4o-mini");
  assert.ok(first.data.usage.total_tokens > 0);
  assert.equal(first.response.headers.get("x-sluice-cache"), "miss");
  assert.equal(first.response.headers.get("x-sluice-served-by"), "oa/gpt-4o-mini");

  const again = await client.chat.completions.create(ask(question)).withResponse();
  assert.equal(again.data.choices[0].message.content, `echo: ${question}`);
  assert.equal(again.response.headers.get("x-sluice-cache"), "exact");
  assert.equal(again.response.headers.get("x-sluice-served-by"), "cache");
  assert.equal(Number(again.response.headers.get("x-sluice-cost-usd")), 0);
});

test("streaming: deltas, the finish chunk with the sluice object, usage", async () => {
  const question = `node stream ${nonce()}`;
  const stream = await client.chat.completions.create(
    { ...ask(question), stream: true, stream_options: { include_usage: true } },
    { headers: { "x-sluice-request-id": "node-stream-1" } },
  );
  let text = "";
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(text, `echo: ${question}`);
  const finish = chunks.find((c) => c.choices[0]?.finish_reason);
  assert.equal(finish.choices[0].finish_reason, "stop");
  assert.equal(finish.sluice.cache, "miss");
  assert.equal(finish.sluice.request_id, "node-stream-1");
  assert.equal(finish.sluice.served_by, "oa/gpt-4o-mini");
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.ok(last.usage.completion_tokens > 0);
});

test("controls in the body: a configured model pinned, a namespace", async () => {
  const { data, response } = await client.chat.completions
    .create({ ...ask(`node pin ${nonce()}`), sluice: { namespace: "node", pinned_model: "gpt-4o" } })
    .withResponse();
  assert.equal(data.model, "gpt-4o");
  assert.equal(response.headers.get("x-sluice-served-by"), "oa/gpt-4o");
});

test("errors arrive as the SDK's typed errors", async () => {
  await assert.rejects(
    client.chat.completions.create({ ...ask("hi"), model: "gpt-5" }),
    (err) => err instanceof OpenAI.NotFoundError && err.code === "model_not_found" && err.param === "model",
  );
  await assert.rejects(
    client.chat.completions.create({
      ...ask("hi"),
      tools: [{ type: "function", function: { name: "get_weather" } }],
    }),
    (err) =>
      err instanceof OpenAI.BadRequestError && err.param === "tools" && /not supported yet/.test(err.message),
  );
});

test("embeddings (the SDK asks for base64 and decodes it) and the model list", async () => {
  const embedded = await client.embeddings.create({ model: "all-MiniLM-L6-v2", input: ["one", "two"] });
  assert.equal(embedded.data.length, 2);
  assert.equal(embedded.data[0].embedding.length, 384);
  const norm = Math.hypot(...embedded.data[0].embedding);
  assert.ok(Math.abs(norm - 1) < 1e-3, `vectors are normalised (norm ${norm})`);

  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids.slice(0, 2), ["sluice-auto", "gpt-4o-mini"]);
});
