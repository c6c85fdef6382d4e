package dev.sluice.client;

import dev.sluice.v1.CompleteChunk;
import dev.sluice.v1.CompleteRequest;
import dev.sluice.v1.CompleteResponse;
import dev.sluice.v1.EmbedRequest;
import dev.sluice.v1.EmbedResponse;
import dev.sluice.v1.FeedbackRequest;
import dev.sluice.v1.FeedbackResponse;
import dev.sluice.v1.GetStatsRequest;
import dev.sluice.v1.InvalidateRequest;
import dev.sluice.v1.LookupRequest;
import dev.sluice.v1.LookupResponse;
import dev.sluice.v1.Message;
import dev.sluice.v1.Role;
import dev.sluice.v1.RouteDecision;
import dev.sluice.v1.RouteRequest;
import dev.sluice.v1.SluiceGrpc;
import dev.sluice.v1.Stats;
import dev.sluice.v1.StoreRequest;
import dev.sluice.v1.StoreResponse;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A thin, blocking client for the Sluice sidecar over the generated {@code dev.sluice.v1} stubs.
 *
 * <pre>{@code
 * try (SluiceClient client = SluiceClient.connect("unix:///run/sluice/sluice.sock")) {
 *   CompleteResponse r = client.complete(CompleteRequest.newBuilder()
 *       .addMessages(SluiceClient.user("What is a sluice?")).build());
 * }
 * }</pre>
 *
 * <p>Every call gets the client's default deadline ({@link #withTimeout} for another one) and
 * throws {@link SluiceException} (unchecked) on a non-OK status. Thread-safe.
 */
public final class SluiceClient implements AutoCloseable {
  /** The name the daemon registers with the health service. */
  public static final String SERVICE_NAME = "sluice.v1.Sluice";

  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private final ManagedChannel channel;
  private final boolean ownsChannel;
  private final Duration timeout;

  private SluiceClient(ManagedChannel channel, boolean ownsChannel, Duration timeout) {
    this.channel = channel;
    this.ownsChannel = ownsChannel;
    this.timeout = timeout;
  }

  /** Connects to {@code "unix:///path.sock"}, {@code "/path.sock"} or {@code "host:port"}, insecurely. */
  public static SluiceClient connect(String target) {
    return connect(target, InsecureChannelCredentials.create());
  }

  public static SluiceClient connect(String target, ChannelCredentials credentials) {
    ManagedChannel ch = Grpc.newChannelBuilder(normalizeTarget(target), credentials).build();
    return new SluiceClient(ch, true, DEFAULT_TIMEOUT);
  }

  /** Wraps a channel the caller built (and closes). */
  public static SluiceClient of(ManagedChannel channel) {
    return new SluiceClient(channel, false, DEFAULT_TIMEOUT);
  }

  /** A view of this client with another per-call deadline (same channel). */
  public SluiceClient withTimeout(Duration timeout) {
    return new SluiceClient(channel, false, timeout);
  }

  static String normalizeTarget(String target) {
    return target.startsWith("/") ? "unix://" + target : target;
  }

  public static Message message(Role role, String content) {
    return Message.newBuilder().setRole(role).setContent(content).build();
  }

  public static Message system(String content) {
    return message(Role.ROLE_SYSTEM, content);
  }

  public static Message user(String content) {
    return message(Role.ROLE_USER, content);
  }

  public static Message assistant(String content) {
    return message(Role.ROLE_ASSISTANT, content);
  }

  /** The generated blocking stub with this client's deadline, for what the wrapper lacks. */
  public SluiceGrpc.SluiceBlockingStub stub() {
    return SluiceGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  private <T> T call(Function<SluiceGrpc.SluiceBlockingStub, T> fn) {
    try {
      return fn.apply(stub());
    } catch (StatusRuntimeException e) {
      throw SluiceException.from(e);
    }
  }

  /** Answers a conversation: cache, then routing and the cascade. */
  public CompleteResponse complete(CompleteRequest request) {
    return call(s -> s.complete(request));
  }

  /**
   * The answer as chunks; the last carries the summary. The deadline covers the whole stream.
   * The iterator throws SluiceException; stop early with {@link ChunkStream#close()}.
   */
  public ChunkStream streamComplete(CompleteRequest request) {
    io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
    try {
      Iterator<CompleteChunk> it = ctx.call(() -> stub().streamComplete(request));
      return new ChunkStream(it, ctx);
    } catch (StatusRuntimeException e) {
      ctx.cancel(e);
      throw SluiceException.from(e);
    } catch (Exception e) {
      ctx.cancel(e);
      throw new IllegalStateException(e);
    }
  }

  /** The routing decision alone; nothing is called or cached. */
  public RouteDecision route(RouteRequest request) {
    return call(s -> s.route(request));
  }

  /** Queries the cache only; a miss is {@code hit == false}, not an exception. */
  public LookupResponse lookup(LookupRequest request) {
    return call(s -> s.lookup(request));
  }

  /** Puts an answer into the cache. */
  public StoreResponse store(StoreRequest request) {
    return call(s -> s.store(request));
  }

  /** Removes cache entries; returns how many were removed. */
  public long invalidate(InvalidateRequest request) {
    return call(s -> s.invalidate(request)).getRemoved();
  }

  /** Reports the user's judgement of an earlier answer. */
  public FeedbackResponse feedback(FeedbackRequest request) {
    return call(s -> s.feedback(request));
  }

  /** Embeddings of 1..256 texts. */
  public EmbedResponse embed(List<String> texts) {
    return call(s -> s.embed(EmbedRequest.newBuilder().addAllTexts(texts).build()));
  }

  /** Cache and request counters; namespace "" means all. */
  public Stats stats(String namespace) {
    return call(s -> s.getStats(GetStatsRequest.newBuilder().setNamespace(namespace).build()));
  }

  /** True when the daemon is SERVING for {@code service} ("" is the whole server). */
  public boolean isServing(String service) {
    try {
      HealthCheckResponse r = HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS)
          .check(HealthCheckRequest.newBuilder().setService(service).build());
      return r.getStatus() == HealthCheckResponse.ServingStatus.SERVING;
    } catch (StatusRuntimeException e) {
      throw SluiceException.from(e);
    }
  }

  /** Health of the Sluice API itself. */
  public boolean isServing() {
    return isServing(SERVICE_NAME);
  }

  @Override
  public void close() {
    if (!ownsChannel) {
      return;
    }
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /** Server-streamed chunks; iterate once. Closing cancels the call. */
  public static final class ChunkStream implements Iterator<CompleteChunk>, Iterable<CompleteChunk>, AutoCloseable {
    private final Iterator<CompleteChunk> it;
    private final io.grpc.Context.CancellableContext ctx;

    ChunkStream(Iterator<CompleteChunk> it, io.grpc.Context.CancellableContext ctx) {
      this.it = it;
      this.ctx = ctx;
    }

    @Override
    public boolean hasNext() {
      try {
        boolean more = it.hasNext();
        if (!more) {
          ctx.close();
        }
        return more;
      } catch (StatusRuntimeException e) {
        ctx.close();
        throw SluiceException.from(e);
      }
    }

    @Override
    public CompleteChunk next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return it.next();
    }

    @Override
    public Iterator<CompleteChunk> iterator() {
      return this;
    }

    @Override
    public void close() {
      ctx.close();
    }
  }
}
