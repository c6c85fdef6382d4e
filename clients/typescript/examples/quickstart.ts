// Quickstart: npm run example -- [unix:///tmp/sluice.sock]
import { CacheOutcome, Sluice, SluiceError, status, user } from "../src";

async function main(): Promise<void> {
  const client = new Sluice(process.argv[2] ?? "unix:///tmp/sluice.sock", { timeoutMs: 10_000 });
  try {
    console.log("healthy:", await client.health());
    const emb = await client.embed(["What is a sluice?"]);
    console.log(`embedding: ${emb.dimensions} dimensions from ${emb.model}`);
    const answer = await client.complete({ messages: [user("What is a sluice?")] });
    console.log(answer.message?.content, "| cache:", CacheOutcome[answer.cache?.outcome ?? 0]);
  } catch (err) {
    if (err instanceof SluiceError && err.code === status.UNIMPLEMENTED) {
      console.log("Complete is not built in this daemon yet:", err.details);
    } else {
      throw err;
    }
  } finally {
    client.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
