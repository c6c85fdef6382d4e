package dev.sluice.client;

import static dev.sluice.client.SluiceClient.assistant;
import static dev.sluice.client.SluiceClient.system;
import static dev.sluice.client.SluiceClient.user;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Duration;
import dev.sluice.v1.CachePolicy;
import dev.sluice.v1.CompleteChunk;
import dev.sluice.v1.CompleteRequest;
import dev.sluice.v1.CompleteResponse;
import dev.sluice.v1.EmbedResponse;
import dev.sluice.v1.FeedbackKind;
import dev.sluice.v1.FeedbackRequest;
import dev.sluice.v1.InvalidateRequest;
import dev.sluice.v1.LookupRequest;
import dev.sluice.v1.Message;
import dev.sluice.v1.Params;
import dev.sluice.v1.RouteRequest;
import dev.sluice.v1.StoreRequest;
import dev.sluice.v1.StoreResponse;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java client against the real daemon on a unix socket. */
class SluiceClientTest {
  private static DaemonProcess daemon;
  private static SluiceClient client;

  private static final List<Message> QUESTION =
      List.of(system("You are terse."), user("What is the capital of France?"));

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start();
    client = SluiceClient.connect(daemon.target);
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (client != null) {
      client.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  private static CompleteRequest question() {
    return CompleteRequest.newBuilder().addAllMessages(QUESTION).build();
  }

  @Test
  void health() {
    assertTrue(client.isServing());
    assertTrue(client.isServing(""));
  }

  @Test
  void embed() {
    EmbedResponse r = client.embed(List.of("a sluice gate", "a water gate"));
    assertEquals(2, r.getEmbeddingsCount());
    assertTrue(r.getDimensions() > 0);
    assertEquals(r.getDimensions(), r.getEmbeddings(0).getValuesCount());
    assertFalse(r.getModel().isEmpty());
  }

  @Test
  void invalidArgumentIsMapped() {
    SluiceException e = assertThrows(SluiceException.InvalidArgumentException.class, () -> client.embed(List.of()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
  }

  @Test
  void deadlineIsMapped() {
    SluiceClient hurried = client.withTimeout(java.time.Duration.ofNanos(1000));
    assertThrows(SluiceException.DeadlineExceededException.class, () -> hurried.embed(List.of("x")));
  }

  @Test
  void unreachableIsUnavailable(@TempDir java.nio.file.Path tmp) {
    try (SluiceClient nowhere = SluiceClient.connect("unix://" + tmp.resolve("nothing.sock"))
        .withTimeout(java.time.Duration.ofSeconds(2))) {
      assertThrows(SluiceException.UnavailableException.class, () -> nowhere.embed(List.of("x")));
    }
  }

  // ---- cache (issue #3)

  @Test
  void storeThenLookup() {
    String ns = "java-" + System.nanoTime();
    List<Message> conv = List.of(user("How tall is the Eiffel tower?"));
    Params params = Params.newBuilder().setTemperature(0).build();
    LookupRequest lookup = LookupRequest.newBuilder().addAllMessages(conv).setNamespace(ns).setParams(params).build();
    assertFalse(client.lookup(lookup).getHit());
    StoreResponse stored = client.store(StoreRequest.newBuilder().addAllMessages(conv).setNamespace(ns)
        .setParams(params).setAnswer(assistant("330 metres.")).setFinishReason("stop")
        .setModel("fake-small").setTtl(Duration.newBuilder().setSeconds(300)).build());
    assertFalse(stored.getEntryId().isEmpty());
    var hit = client.lookup(lookup);
    assertTrue(hit.getHit());
    assertEquals("330 metres.", hit.getEntry().getAnswer().getContent());
    assertTrue(client.stats(ns).getCache().getStores() >= 1);
    assertEquals(1, client.invalidate(InvalidateRequest.newBuilder().setNamespace(ns).build()));
  }

  // ---- request path (issue #5)

  @Test
  void completeAgainstFakeProvider() {
    client.route(RouteRequest.newBuilder().addAllMessages(QUESTION).build());
    CompleteResponse r = client.complete(question().toBuilder().setRequestId("java-complete-1")
        .setCache(CachePolicy.newBuilder().setSkipRead(true)).build());
    assertEquals("java-complete-1", r.getRequestId());
    assertFalse(r.getMessage().getContent().isEmpty());
    assertEquals("cheap", r.getServedBy().getTier());
    assertNotNull(client.feedback(FeedbackRequest.newBuilder().setRequestId(r.getRequestId())
        .setKind(FeedbackKind.FEEDBACK_KIND_THUMBS_UP).build()));
  }

  @Test
  void streamComplete() {
    CompleteRequest req = question().toBuilder().setCache(CachePolicy.newBuilder().setSkipRead(true)).build();
    List<CompleteChunk> chunks = new ArrayList<>();
    try (SluiceClient.ChunkStream stream = client.streamComplete(req)) {
      stream.forEachRemaining(chunks::add);
    }
    CompleteChunk last = chunks.get(chunks.size() - 1);
    assertTrue(last.hasSummary());
    StringBuilder text = new StringBuilder();
    chunks.forEach(c -> text.append(c.getDelta()));
    assertEquals(last.getSummary().getMessage().getContent(), text.toString());
  }

  // ---- the standard google.rpc details (issue #22)
  @Test
  void invalidArgumentCarriesTheFieldViolationAndReason() {
    CompleteRequest bad = CompleteRequest.newBuilder()
        .addMessages(Message.newBuilder().setContent("hi"))
        .setRequestId("java-1")
        .build();
    SluiceException e = assertThrows(SluiceException.InvalidArgumentException.class, () -> client.complete(bad));
    assertEquals("INVALID_ARGUMENT", e.reason());
    assertEquals("sluice.dev", e.domain());
    assertEquals("java-1", e.metadata().get("request_id"));
    assertEquals(1, e.fieldViolations().size());
    assertEquals("messages[0].role", e.fieldViolations().get(0).field());
    assertFalse(e.fieldViolations().get(0).description().isEmpty());
    assertTrue(e.retryDelay().isEmpty());
    assertEquals("messages[0].role", e.details().orElseThrow().getField());
  }

  @Test
  void overloadCarriesARetryDelay() throws Exception {
    // The test config queues at most 64 texts: of six 64-text calls sent at once the first
    // is admitted and at least one of the rest finds the queue full.
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      texts.add(("a sentence about sluice gates number " + i + " ").repeat(8));
    }
    List<SluiceException> refused = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(6);
    try {
      for (int round = 0; round < 5 && refused.isEmpty(); round++) {
        List<java.util.concurrent.Future<?>> calls = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
          calls.add(pool.submit(() -> {
            try {
              client.embed(texts);
            } catch (SluiceException e) {
              refused.add(e);
            }
          }));
        }
        for (java.util.concurrent.Future<?> call : calls) {
          call.get();
        }
      }
    } finally {
      pool.shutdownNow();
    }
    assertFalse(refused.isEmpty(), "no call was refused: the queue bound did not apply");
    for (SluiceException e : refused) {
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.code());
      assertEquals("OVERLOADED", e.reason());
      assertTrue(e.retryDelay().orElseThrow().compareTo(java.time.Duration.ofSeconds(1)) >= 0);
    }
  }
}
