// A thin promise-based client for the Sluice sidecar, over the ts-proto/grpc-js stubs in ./gen.
//
//   const client = new Sluice("unix:///run/sluice/sluice.sock");
//   const answer = await client.complete({ messages: [user("What is a sluice?")] });
//
// It adds target parsing (unix socket or host:port), a default deadline, message helpers and
// SluiceError rejections with the gRPC code. The daemon decides everything else.
import {
  credentials as grpcCredentials,
  Metadata,
  status as grpcStatus,
  type CallOptions,
  type ChannelCredentials,
  type ClientOptions,
  type ServiceError,
} from "@grpc/grpc-js";
import {
  CompleteRequest,
  EmbedRequest,
  FeedbackRequest,
  GetStatsRequest,
  InvalidateRequest,
  LookupRequest,
  Role,
  RouteRequest,
  SluiceClient,
  StoreRequest,
  type CompleteChunk,
  type CompleteResponse,
  type DeepPartial,
  type EmbedResponse,
  type FeedbackResponse,
  type LookupResponse,
  type Message,
  type RouteDecision,
  type Stats,
  type StoreResponse,
} from "./gen/sluice/v1/sluice";
import { fromServiceError, SluiceError } from "./errors";
import { decodeHealthStatus, encodeHealthRequest, HEALTH_CHECK_PATH, SERVING } from "./health";

export * from "./gen/sluice/v1/sluice";
export { SluiceError, fromServiceError, isSluiceError } from "./errors";
export { decodeStatus, type FieldViolation, type StatusDetails } from "./details";
export { status } from "@grpc/grpc-js";

export const SERVICE_NAME = "sluice.v1.Sluice";

export interface SluiceOptions {
  /** Default deadline per call in milliseconds (0: none). Default 30 000. */
  timeoutMs?: number;
  /** Channel credentials; insecure by default, as on a pod-local socket. */
  credentials?: ChannelCredentials;
  /** Extra grpc-js channel options. */
  channelOptions?: Partial<ClientOptions>;
}

export interface CallOpts {
  /** Deadline for this call in milliseconds; overrides the client's default. */
  timeoutMs?: number;
  /** Absolute deadline for this call; wins over timeoutMs. */
  deadline?: Date;
  /**
   * Cancels the call when aborted (the daemon stops work on it too); the promise rejects with
   * a SluiceError of code CANCELLED. An already aborted signal rejects without a call.
   */
  signal?: AbortSignal;
  metadata?: Metadata;
}

/** "/path.sock" → "unix:///path.sock"; "unix:///…" and "host:port" pass through. */
export function normalizeTarget(target: string): string {
  return target.startsWith("/") ? `unix://${target}` : target;
}

export const message = (role: Role, content: string): Message => ({ role, content, name: "" });
export const system = (content: string): Message => message(Role.ROLE_SYSTEM, content);
export const user = (content: string): Message => message(Role.ROLE_USER, content);
export const assistant = (content: string): Message => message(Role.ROLE_ASSISTANT, content);

type Unary<Req, Resp> = (
  req: Req,
  md: Metadata,
  opts: Partial<CallOptions>,
  cb: (err: ServiceError | null, resp: Resp) => void,
) => { cancel(): void };

function aborted(): SluiceError {
  return new SluiceError(grpcStatus.CANCELLED, "the call's AbortSignal was aborted");
}

/** Cancels `call` when `signal` aborts; returns the function that stops listening. */
function onAbort(signal: AbortSignal | undefined, call: { cancel(): void }): () => void {
  if (signal === undefined) return () => {};
  const cancel = (): void => call.cancel();
  signal.addEventListener("abort", cancel, { once: true });
  return () => signal.removeEventListener("abort", cancel);
}

export class Sluice {
  /** The generated grpc-js client, for what this wrapper does not cover (errors not mapped). */
  readonly stub: SluiceClient;
  private readonly timeoutMs: number;

  constructor(target: string, opts: SluiceOptions = {}) {
    this.stub = new SluiceClient(
      normalizeTarget(target),
      opts.credentials ?? grpcCredentials.createInsecure(),
      opts.channelOptions,
    );
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  close(): void {
    this.stub.close();
  }

  private callOptions(opts: CallOpts): Partial<CallOptions> {
    if (opts.deadline !== undefined) return { deadline: opts.deadline };
    const ms = opts.timeoutMs ?? this.timeoutMs;
    return ms > 0 ? { deadline: new Date(Date.now() + ms) } : {};
  }

  private unary<Req, Resp>(fn: Unary<Req, Resp>, req: Req, opts: CallOpts): Promise<Resp> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(aborted());
      let stop = (): void => {};
      const call = fn.call(this.stub, req, opts.metadata ?? new Metadata(), this.callOptions(opts), (err, resp) => {
        stop();
        if (err) reject(opts.signal?.aborted && err.code === grpcStatus.CANCELLED ? aborted() : fromServiceError(err));
        else resolve(resp);
      });
      stop = onAbort(opts.signal, call);
    });
  }

  /** Answer a conversation: cache, then routing and the cascade. */
  complete(req: DeepPartial<CompleteRequest>, opts: CallOpts = {}): Promise<CompleteResponse> {
    return this.unary(this.stub.complete, CompleteRequest.fromPartial(req), opts);
  }

  /**
   * The answer as chunks; the last one carries `summary`. The deadline covers the whole stream;
   * leaving the loop early cancels the call. Errors are thrown as SluiceError.
   */
  async *streamComplete(req: DeepPartial<CompleteRequest>, opts: CallOpts = {}): AsyncGenerator<CompleteChunk> {
    if (opts.signal?.aborted) throw aborted();
    const call = this.stub.streamComplete(
      CompleteRequest.fromPartial(req),
      opts.metadata ?? new Metadata(),
      this.callOptions(opts),
    );
    const stop = onAbort(opts.signal, call);
    try {
      for await (const chunk of call) yield chunk as CompleteChunk;
    } catch (err) {
      if (opts.signal?.aborted) throw aborted();
      throw fromServiceError(err as ServiceError);
    } finally {
      stop();
      call.cancel();
    }
  }

  /** The routing decision alone; nothing is called or cached. */
  route(req: DeepPartial<RouteRequest>, opts: CallOpts = {}): Promise<RouteDecision> {
    return this.unary(this.stub.route, RouteRequest.fromPartial(req), opts);
  }

  /** Query the cache only; a miss is `hit: false`, not an error. */
  lookup(req: DeepPartial<LookupRequest>, opts: CallOpts = {}): Promise<LookupResponse> {
    return this.unary(this.stub.lookup, LookupRequest.fromPartial(req), opts);
  }

  /** Put an answer into the cache. */
  store(req: DeepPartial<StoreRequest>, opts: CallOpts = {}): Promise<StoreResponse> {
    return this.unary(this.stub.store, StoreRequest.fromPartial(req), opts);
  }

  /** Remove cache entries (exactly one target); resolves to how many were removed. */
  async invalidate(req: DeepPartial<InvalidateRequest>, opts: CallOpts = {}): Promise<number> {
    const resp = await this.unary(this.stub.invalidate, InvalidateRequest.fromPartial(req), opts);
    return resp.removed;
  }

  /** Report the user's judgement of an earlier answer. */
  feedback(req: DeepPartial<FeedbackRequest>, opts: CallOpts = {}): Promise<FeedbackResponse> {
    return this.unary(this.stub.feedback, FeedbackRequest.fromPartial(req), opts);
  }

  /** Embeddings of 1..256 texts. */
  embed(texts: string[], opts: CallOpts = {}): Promise<EmbedResponse> {
    return this.unary(this.stub.embed, EmbedRequest.fromPartial({ texts }), opts);
  }

  /** Cache and request counters; namespace "" means all. */
  stats(namespace = "", opts: CallOpts = {}): Promise<Stats> {
    return this.unary(this.stub.getStats, GetStatsRequest.fromPartial({ namespace }), opts);
  }

  /** True when the daemon is SERVING for `service` ("" is the whole server). */
  health(service: string = SERVICE_NAME, opts: CallOpts = {}): Promise<boolean> {
    const check: Unary<string, number | undefined> = (req, md, callOpts, cb) =>
      this.stub.makeUnaryRequest(HEALTH_CHECK_PATH, encodeHealthRequest, decodeHealthStatus, req, md, callOpts, cb);
    return this.unary(check, service, opts).then((st) => st === SERVING);
  }
}
