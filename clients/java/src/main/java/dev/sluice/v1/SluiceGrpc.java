package dev.sluice.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * The Sluice service. One instance per application pod, reached over a unix
 * socket or loopback TCP.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class SluiceGrpc {

  private SluiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "sluice.v1.Sluice";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.CompleteRequest,
      dev.sluice.v1.CompleteResponse> getCompleteMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Complete",
      requestType = dev.sluice.v1.CompleteRequest.class,
      responseType = dev.sluice.v1.CompleteResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.CompleteRequest,
      dev.sluice.v1.CompleteResponse> getCompleteMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.CompleteRequest, dev.sluice.v1.CompleteResponse> getCompleteMethod;
    if ((getCompleteMethod = SluiceGrpc.getCompleteMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getCompleteMethod = SluiceGrpc.getCompleteMethod) == null) {
          SluiceGrpc.getCompleteMethod = getCompleteMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.CompleteRequest, dev.sluice.v1.CompleteResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Complete"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.CompleteRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.CompleteResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("Complete"))
              .build();
        }
      }
    }
    return getCompleteMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.CompleteRequest,
      dev.sluice.v1.CompleteChunk> getStreamCompleteMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamComplete",
      requestType = dev.sluice.v1.CompleteRequest.class,
      responseType = dev.sluice.v1.CompleteChunk.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.CompleteRequest,
      dev.sluice.v1.CompleteChunk> getStreamCompleteMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.CompleteRequest, dev.sluice.v1.CompleteChunk> getStreamCompleteMethod;
    if ((getStreamCompleteMethod = SluiceGrpc.getStreamCompleteMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getStreamCompleteMethod = SluiceGrpc.getStreamCompleteMethod) == null) {
          SluiceGrpc.getStreamCompleteMethod = getStreamCompleteMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.CompleteRequest, dev.sluice.v1.CompleteChunk>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamComplete"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.CompleteRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.CompleteChunk.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("StreamComplete"))
              .build();
        }
      }
    }
    return getStreamCompleteMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.RouteRequest,
      dev.sluice.v1.RouteDecision> getRouteMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Route",
      requestType = dev.sluice.v1.RouteRequest.class,
      responseType = dev.sluice.v1.RouteDecision.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.RouteRequest,
      dev.sluice.v1.RouteDecision> getRouteMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.RouteRequest, dev.sluice.v1.RouteDecision> getRouteMethod;
    if ((getRouteMethod = SluiceGrpc.getRouteMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getRouteMethod = SluiceGrpc.getRouteMethod) == null) {
          SluiceGrpc.getRouteMethod = getRouteMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.RouteRequest, dev.sluice.v1.RouteDecision>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Route"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.RouteRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.RouteDecision.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("Route"))
              .build();
        }
      }
    }
    return getRouteMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.LookupRequest,
      dev.sluice.v1.LookupResponse> getLookupMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Lookup",
      requestType = dev.sluice.v1.LookupRequest.class,
      responseType = dev.sluice.v1.LookupResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.LookupRequest,
      dev.sluice.v1.LookupResponse> getLookupMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.LookupRequest, dev.sluice.v1.LookupResponse> getLookupMethod;
    if ((getLookupMethod = SluiceGrpc.getLookupMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getLookupMethod = SluiceGrpc.getLookupMethod) == null) {
          SluiceGrpc.getLookupMethod = getLookupMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.LookupRequest, dev.sluice.v1.LookupResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Lookup"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.LookupRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.LookupResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("Lookup"))
              .build();
        }
      }
    }
    return getLookupMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.StoreRequest,
      dev.sluice.v1.StoreResponse> getStoreMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Store",
      requestType = dev.sluice.v1.StoreRequest.class,
      responseType = dev.sluice.v1.StoreResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.StoreRequest,
      dev.sluice.v1.StoreResponse> getStoreMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.StoreRequest, dev.sluice.v1.StoreResponse> getStoreMethod;
    if ((getStoreMethod = SluiceGrpc.getStoreMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getStoreMethod = SluiceGrpc.getStoreMethod) == null) {
          SluiceGrpc.getStoreMethod = getStoreMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.StoreRequest, dev.sluice.v1.StoreResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Store"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.StoreRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.StoreResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("Store"))
              .build();
        }
      }
    }
    return getStoreMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.InvalidateRequest,
      dev.sluice.v1.InvalidateResponse> getInvalidateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Invalidate",
      requestType = dev.sluice.v1.InvalidateRequest.class,
      responseType = dev.sluice.v1.InvalidateResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.InvalidateRequest,
      dev.sluice.v1.InvalidateResponse> getInvalidateMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.InvalidateRequest, dev.sluice.v1.InvalidateResponse> getInvalidateMethod;
    if ((getInvalidateMethod = SluiceGrpc.getInvalidateMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getInvalidateMethod = SluiceGrpc.getInvalidateMethod) == null) {
          SluiceGrpc.getInvalidateMethod = getInvalidateMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.InvalidateRequest, dev.sluice.v1.InvalidateResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Invalidate"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.InvalidateRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.InvalidateResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("Invalidate"))
              .build();
        }
      }
    }
    return getInvalidateMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.FeedbackRequest,
      dev.sluice.v1.FeedbackResponse> getFeedbackMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Feedback",
      requestType = dev.sluice.v1.FeedbackRequest.class,
      responseType = dev.sluice.v1.FeedbackResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.FeedbackRequest,
      dev.sluice.v1.FeedbackResponse> getFeedbackMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.FeedbackRequest, dev.sluice.v1.FeedbackResponse> getFeedbackMethod;
    if ((getFeedbackMethod = SluiceGrpc.getFeedbackMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getFeedbackMethod = SluiceGrpc.getFeedbackMethod) == null) {
          SluiceGrpc.getFeedbackMethod = getFeedbackMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.FeedbackRequest, dev.sluice.v1.FeedbackResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Feedback"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.FeedbackRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.FeedbackResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("Feedback"))
              .build();
        }
      }
    }
    return getFeedbackMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.EmbedRequest,
      dev.sluice.v1.EmbedResponse> getEmbedMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Embed",
      requestType = dev.sluice.v1.EmbedRequest.class,
      responseType = dev.sluice.v1.EmbedResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.EmbedRequest,
      dev.sluice.v1.EmbedResponse> getEmbedMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.EmbedRequest, dev.sluice.v1.EmbedResponse> getEmbedMethod;
    if ((getEmbedMethod = SluiceGrpc.getEmbedMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getEmbedMethod = SluiceGrpc.getEmbedMethod) == null) {
          SluiceGrpc.getEmbedMethod = getEmbedMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.EmbedRequest, dev.sluice.v1.EmbedResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Embed"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.EmbedRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.EmbedResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("Embed"))
              .build();
        }
      }
    }
    return getEmbedMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.sluice.v1.GetStatsRequest,
      dev.sluice.v1.Stats> getGetStatsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetStats",
      requestType = dev.sluice.v1.GetStatsRequest.class,
      responseType = dev.sluice.v1.Stats.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.sluice.v1.GetStatsRequest,
      dev.sluice.v1.Stats> getGetStatsMethod() {
    io.grpc.MethodDescriptor<dev.sluice.v1.GetStatsRequest, dev.sluice.v1.Stats> getGetStatsMethod;
    if ((getGetStatsMethod = SluiceGrpc.getGetStatsMethod) == null) {
      synchronized (SluiceGrpc.class) {
        if ((getGetStatsMethod = SluiceGrpc.getGetStatsMethod) == null) {
          SluiceGrpc.getGetStatsMethod = getGetStatsMethod =
              io.grpc.MethodDescriptor.<dev.sluice.v1.GetStatsRequest, dev.sluice.v1.Stats>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetStats"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.GetStatsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.sluice.v1.Stats.getDefaultInstance()))
              .setSchemaDescriptor(new SluiceMethodDescriptorSupplier("GetStats"))
              .build();
        }
      }
    }
    return getGetStatsMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static SluiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SluiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SluiceStub>() {
        @java.lang.Override
        public SluiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SluiceStub(channel, callOptions);
        }
      };
    return SluiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static SluiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SluiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SluiceBlockingV2Stub>() {
        @java.lang.Override
        public SluiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SluiceBlockingV2Stub(channel, callOptions);
        }
      };
    return SluiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static SluiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SluiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SluiceBlockingStub>() {
        @java.lang.Override
        public SluiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SluiceBlockingStub(channel, callOptions);
        }
      };
    return SluiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static SluiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SluiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SluiceFutureStub>() {
        @java.lang.Override
        public SluiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SluiceFutureStub(channel, callOptions);
        }
      };
    return SluiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * The Sluice service. One instance per application pod, reached over a unix
   * socket or loopback TCP.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Complete answers a chat request: cache lookup, then routing and the
     * cascade on a miss, then store and accounting. The response says what
     * happened (cache outcome, which model served, every attempt, cost).
     * </pre>
     */
    default void complete(dev.sluice.v1.CompleteRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.CompleteResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCompleteMethod(), responseObserver);
    }

    /**
     * <pre>
     * StreamComplete is Complete with the answer streamed as text deltas. Cache
     * hits stream too. Escalation happens before the first byte is sent; after
     * that the stream never switches model. The last chunk carries the summary.
     * </pre>
     */
    default void streamComplete(dev.sluice.v1.CompleteRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.CompleteChunk> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamCompleteMethod(), responseObserver);
    }

    /**
     * <pre>
     * Route returns the routing decision alone, for applications that call the
     * model themselves. Nothing is called and nothing is cached.
     * </pre>
     */
    default void route(dev.sluice.v1.RouteRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.RouteDecision> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRouteMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lookup queries the cache only (exact, then semantic). A miss is not an
     * error: `hit` is false.
     * </pre>
     */
    default void lookup(dev.sluice.v1.LookupRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.LookupResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getLookupMethod(), responseObserver);
    }

    /**
     * <pre>
     * Store puts an answer into the cache for the given conversation.
     * </pre>
     */
    default void store(dev.sluice.v1.StoreRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.StoreResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStoreMethod(), responseObserver);
    }

    /**
     * <pre>
     * Invalidate removes cache entries by id, by namespace, or all of them.
     * </pre>
     */
    default void invalidate(dev.sluice.v1.InvalidateRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.InvalidateResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getInvalidateMethod(), responseObserver);
    }

    /**
     * <pre>
     * Feedback reports the user's judgement of an earlier answer (by its
     * request id); it trains the learned routing policy, and an answer the cache
     * served or stored that is judged wrong is removed (its own question) or
     * narrowed to closer questions (a semantic hit). An answer takes one
     * judgement: NOT_FOUND for an unknown or forgotten id, and for a second
     * judgement of the same answer (the message says which).
     * </pre>
     */
    default void feedback(dev.sluice.v1.FeedbackRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.FeedbackResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getFeedbackMethod(), responseObserver);
    }

    /**
     * <pre>
     * Embed returns the embedding of each text with the loaded model.
     * </pre>
     */
    default void embed(dev.sluice.v1.EmbedRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.EmbedResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getEmbedMethod(), responseObserver);
    }

    /**
     * <pre>
     * GetStats returns counters of the cache and of the request path.
     * </pre>
     */
    default void getStats(dev.sluice.v1.GetStatsRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.Stats> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetStatsMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service Sluice.
   * <pre>
   * The Sluice service. One instance per application pod, reached over a unix
   * socket or loopback TCP.
   * </pre>
   */
  public static abstract class SluiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return SluiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service Sluice.
   * <pre>
   * The Sluice service. One instance per application pod, reached over a unix
   * socket or loopback TCP.
   * </pre>
   */
  public static final class SluiceStub
      extends io.grpc.stub.AbstractAsyncStub<SluiceStub> {
    private SluiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SluiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SluiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Complete answers a chat request: cache lookup, then routing and the
     * cascade on a miss, then store and accounting. The response says what
     * happened (cache outcome, which model served, every attempt, cost).
     * </pre>
     */
    public void complete(dev.sluice.v1.CompleteRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.CompleteResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCompleteMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * StreamComplete is Complete with the answer streamed as text deltas. Cache
     * hits stream too. Escalation happens before the first byte is sent; after
     * that the stream never switches model. The last chunk carries the summary.
     * </pre>
     */
    public void streamComplete(dev.sluice.v1.CompleteRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.CompleteChunk> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamCompleteMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Route returns the routing decision alone, for applications that call the
     * model themselves. Nothing is called and nothing is cached.
     * </pre>
     */
    public void route(dev.sluice.v1.RouteRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.RouteDecision> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRouteMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lookup queries the cache only (exact, then semantic). A miss is not an
     * error: `hit` is false.
     * </pre>
     */
    public void lookup(dev.sluice.v1.LookupRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.LookupResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getLookupMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Store puts an answer into the cache for the given conversation.
     * </pre>
     */
    public void store(dev.sluice.v1.StoreRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.StoreResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getStoreMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Invalidate removes cache entries by id, by namespace, or all of them.
     * </pre>
     */
    public void invalidate(dev.sluice.v1.InvalidateRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.InvalidateResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getInvalidateMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Feedback reports the user's judgement of an earlier answer (by its
     * request id); it trains the learned routing policy, and an answer the cache
     * served or stored that is judged wrong is removed (its own question) or
     * narrowed to closer questions (a semantic hit). An answer takes one
     * judgement: NOT_FOUND for an unknown or forgotten id, and for a second
     * judgement of the same answer (the message says which).
     * </pre>
     */
    public void feedback(dev.sluice.v1.FeedbackRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.FeedbackResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getFeedbackMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Embed returns the embedding of each text with the loaded model.
     * </pre>
     */
    public void embed(dev.sluice.v1.EmbedRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.EmbedResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getEmbedMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * GetStats returns counters of the cache and of the request path.
     * </pre>
     */
    public void getStats(dev.sluice.v1.GetStatsRequest request,
        io.grpc.stub.StreamObserver<dev.sluice.v1.Stats> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetStatsMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service Sluice.
   * <pre>
   * The Sluice service. One instance per application pod, reached over a unix
   * socket or loopback TCP.
   * </pre>
   */
  public static final class SluiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<SluiceBlockingV2Stub> {
    private SluiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SluiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SluiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Complete answers a chat request: cache lookup, then routing and the
     * cascade on a miss, then store and accounting. The response says what
     * happened (cache outcome, which model served, every attempt, cost).
     * </pre>
     */
    public dev.sluice.v1.CompleteResponse complete(dev.sluice.v1.CompleteRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCompleteMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * StreamComplete is Complete with the answer streamed as text deltas. Cache
     * hits stream too. Escalation happens before the first byte is sent; after
     * that the stream never switches model. The last chunk carries the summary.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.sluice.v1.CompleteChunk>
        streamComplete(dev.sluice.v1.CompleteRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getStreamCompleteMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Route returns the routing decision alone, for applications that call the
     * model themselves. Nothing is called and nothing is cached.
     * </pre>
     */
    public dev.sluice.v1.RouteDecision route(dev.sluice.v1.RouteRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getRouteMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lookup queries the cache only (exact, then semantic). A miss is not an
     * error: `hit` is false.
     * </pre>
     */
    public dev.sluice.v1.LookupResponse lookup(dev.sluice.v1.LookupRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getLookupMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Store puts an answer into the cache for the given conversation.
     * </pre>
     */
    public dev.sluice.v1.StoreResponse store(dev.sluice.v1.StoreRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getStoreMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Invalidate removes cache entries by id, by namespace, or all of them.
     * </pre>
     */
    public dev.sluice.v1.InvalidateResponse invalidate(dev.sluice.v1.InvalidateRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getInvalidateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Feedback reports the user's judgement of an earlier answer (by its
     * request id); it trains the learned routing policy, and an answer the cache
     * served or stored that is judged wrong is removed (its own question) or
     * narrowed to closer questions (a semantic hit). An answer takes one
     * judgement: NOT_FOUND for an unknown or forgotten id, and for a second
     * judgement of the same answer (the message says which).
     * </pre>
     */
    public dev.sluice.v1.FeedbackResponse feedback(dev.sluice.v1.FeedbackRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getFeedbackMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Embed returns the embedding of each text with the loaded model.
     * </pre>
     */
    public dev.sluice.v1.EmbedResponse embed(dev.sluice.v1.EmbedRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getEmbedMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * GetStats returns counters of the cache and of the request path.
     * </pre>
     */
    public dev.sluice.v1.Stats getStats(dev.sluice.v1.GetStatsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetStatsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service Sluice.
   * <pre>
   * The Sluice service. One instance per application pod, reached over a unix
   * socket or loopback TCP.
   * </pre>
   */
  public static final class SluiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<SluiceBlockingStub> {
    private SluiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SluiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SluiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Complete answers a chat request: cache lookup, then routing and the
     * cascade on a miss, then store and accounting. The response says what
     * happened (cache outcome, which model served, every attempt, cost).
     * </pre>
     */
    public dev.sluice.v1.CompleteResponse complete(dev.sluice.v1.CompleteRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCompleteMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * StreamComplete is Complete with the answer streamed as text deltas. Cache
     * hits stream too. Escalation happens before the first byte is sent; after
     * that the stream never switches model. The last chunk carries the summary.
     * </pre>
     */
    public java.util.Iterator<dev.sluice.v1.CompleteChunk> streamComplete(
        dev.sluice.v1.CompleteRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamCompleteMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Route returns the routing decision alone, for applications that call the
     * model themselves. Nothing is called and nothing is cached.
     * </pre>
     */
    public dev.sluice.v1.RouteDecision route(dev.sluice.v1.RouteRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRouteMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lookup queries the cache only (exact, then semantic). A miss is not an
     * error: `hit` is false.
     * </pre>
     */
    public dev.sluice.v1.LookupResponse lookup(dev.sluice.v1.LookupRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getLookupMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Store puts an answer into the cache for the given conversation.
     * </pre>
     */
    public dev.sluice.v1.StoreResponse store(dev.sluice.v1.StoreRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getStoreMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Invalidate removes cache entries by id, by namespace, or all of them.
     * </pre>
     */
    public dev.sluice.v1.InvalidateResponse invalidate(dev.sluice.v1.InvalidateRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getInvalidateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Feedback reports the user's judgement of an earlier answer (by its
     * request id); it trains the learned routing policy, and an answer the cache
     * served or stored that is judged wrong is removed (its own question) or
     * narrowed to closer questions (a semantic hit). An answer takes one
     * judgement: NOT_FOUND for an unknown or forgotten id, and for a second
     * judgement of the same answer (the message says which).
     * </pre>
     */
    public dev.sluice.v1.FeedbackResponse feedback(dev.sluice.v1.FeedbackRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getFeedbackMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Embed returns the embedding of each text with the loaded model.
     * </pre>
     */
    public dev.sluice.v1.EmbedResponse embed(dev.sluice.v1.EmbedRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getEmbedMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * GetStats returns counters of the cache and of the request path.
     * </pre>
     */
    public dev.sluice.v1.Stats getStats(dev.sluice.v1.GetStatsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetStatsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service Sluice.
   * <pre>
   * The Sluice service. One instance per application pod, reached over a unix
   * socket or loopback TCP.
   * </pre>
   */
  public static final class SluiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<SluiceFutureStub> {
    private SluiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SluiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SluiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Complete answers a chat request: cache lookup, then routing and the
     * cascade on a miss, then store and accounting. The response says what
     * happened (cache outcome, which model served, every attempt, cost).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.sluice.v1.CompleteResponse> complete(
        dev.sluice.v1.CompleteRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCompleteMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Route returns the routing decision alone, for applications that call the
     * model themselves. Nothing is called and nothing is cached.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.sluice.v1.RouteDecision> route(
        dev.sluice.v1.RouteRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRouteMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lookup queries the cache only (exact, then semantic). A miss is not an
     * error: `hit` is false.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.sluice.v1.LookupResponse> lookup(
        dev.sluice.v1.LookupRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getLookupMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Store puts an answer into the cache for the given conversation.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.sluice.v1.StoreResponse> store(
        dev.sluice.v1.StoreRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getStoreMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Invalidate removes cache entries by id, by namespace, or all of them.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.sluice.v1.InvalidateResponse> invalidate(
        dev.sluice.v1.InvalidateRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getInvalidateMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Feedback reports the user's judgement of an earlier answer (by its
     * request id); it trains the learned routing policy, and an answer the cache
     * served or stored that is judged wrong is removed (its own question) or
     * narrowed to closer questions (a semantic hit). An answer takes one
     * judgement: NOT_FOUND for an unknown or forgotten id, and for a second
     * judgement of the same answer (the message says which).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.sluice.v1.FeedbackResponse> feedback(
        dev.sluice.v1.FeedbackRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getFeedbackMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Embed returns the embedding of each text with the loaded model.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.sluice.v1.EmbedResponse> embed(
        dev.sluice.v1.EmbedRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getEmbedMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * GetStats returns counters of the cache and of the request path.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.sluice.v1.Stats> getStats(
        dev.sluice.v1.GetStatsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetStatsMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_COMPLETE = 0;
  private static final int METHODID_STREAM_COMPLETE = 1;
  private static final int METHODID_ROUTE = 2;
  private static final int METHODID_LOOKUP = 3;
  private static final int METHODID_STORE = 4;
  private static final int METHODID_INVALIDATE = 5;
  private static final int METHODID_FEEDBACK = 6;
  private static final int METHODID_EMBED = 7;
  private static final int METHODID_GET_STATS = 8;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_COMPLETE:
          serviceImpl.complete((dev.sluice.v1.CompleteRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.CompleteResponse>) responseObserver);
          break;
        case METHODID_STREAM_COMPLETE:
          serviceImpl.streamComplete((dev.sluice.v1.CompleteRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.CompleteChunk>) responseObserver);
          break;
        case METHODID_ROUTE:
          serviceImpl.route((dev.sluice.v1.RouteRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.RouteDecision>) responseObserver);
          break;
        case METHODID_LOOKUP:
          serviceImpl.lookup((dev.sluice.v1.LookupRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.LookupResponse>) responseObserver);
          break;
        case METHODID_STORE:
          serviceImpl.store((dev.sluice.v1.StoreRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.StoreResponse>) responseObserver);
          break;
        case METHODID_INVALIDATE:
          serviceImpl.invalidate((dev.sluice.v1.InvalidateRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.InvalidateResponse>) responseObserver);
          break;
        case METHODID_FEEDBACK:
          serviceImpl.feedback((dev.sluice.v1.FeedbackRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.FeedbackResponse>) responseObserver);
          break;
        case METHODID_EMBED:
          serviceImpl.embed((dev.sluice.v1.EmbedRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.EmbedResponse>) responseObserver);
          break;
        case METHODID_GET_STATS:
          serviceImpl.getStats((dev.sluice.v1.GetStatsRequest) request,
              (io.grpc.stub.StreamObserver<dev.sluice.v1.Stats>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getCompleteMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.sluice.v1.CompleteRequest,
              dev.sluice.v1.CompleteResponse>(
                service, METHODID_COMPLETE)))
        .addMethod(
          getStreamCompleteMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.sluice.v1.CompleteRequest,
              dev.sluice.v1.CompleteChunk>(
                service, METHODID_STREAM_COMPLETE)))
        .addMethod(
          getRouteMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.sluice.v1.RouteRequest,
              dev.sluice.v1.RouteDecision>(
                service, METHODID_ROUTE)))
        .addMethod(
          getLookupMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.sluice.v1.LookupRequest,
              dev.sluice.v1.LookupResponse>(
                service, METHODID_LOOKUP)))
        .addMethod(
          getStoreMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.sluice.v1.StoreRequest,
              dev.sluice.v1.StoreResponse>(
                service, METHODID_STORE)))
        .addMethod(
          getInvalidateMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.sluice.v1.InvalidateRequest,
              dev.sluice.v1.InvalidateResponse>(
                service, METHODID_INVALIDATE)))
        .addMethod(
          getFeedbackMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.sluice.v1.FeedbackRequest,
              dev.sluice.v1.FeedbackResponse>(
                service, METHODID_FEEDBACK)))
        .addMethod(
          getEmbedMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.sluice.v1.EmbedRequest,
              dev.sluice.v1.EmbedResponse>(
                service, METHODID_EMBED)))
        .addMethod(
          getGetStatsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.sluice.v1.GetStatsRequest,
              dev.sluice.v1.Stats>(
                service, METHODID_GET_STATS)))
        .build();
  }

  private static abstract class SluiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    SluiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.sluice.v1.SluiceProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("Sluice");
    }
  }

  private static final class SluiceFileDescriptorSupplier
      extends SluiceBaseDescriptorSupplier {
    SluiceFileDescriptorSupplier() {}
  }

  private static final class SluiceMethodDescriptorSupplier
      extends SluiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    SluiceMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (SluiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new SluiceFileDescriptorSupplier())
              .addMethod(getCompleteMethod())
              .addMethod(getStreamCompleteMethod())
              .addMethod(getRouteMethod())
              .addMethod(getLookupMethod())
              .addMethod(getStoreMethod())
              .addMethod(getInvalidateMethod())
              .addMethod(getFeedbackMethod())
              .addMethod(getEmbedMethod())
              .addMethod(getGetStatsMethod())
              .build();
        }
      }
    }
    return result;
  }
}
