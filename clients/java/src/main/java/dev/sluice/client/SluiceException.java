package dev.sluice.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.sluice.v1.ErrorDetails;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A failed call to the daemon. Unchecked, like grpc-java's own StatusRuntimeException (kept as
 * the cause). {@link #code()} is the gRPC status code; subclasses exist for the codes callers
 * handle differently:
 *
 * <pre>
 * SluiceException                 any failure; code() says which
 * ├── InvalidArgumentException    a field is missing or out of range
 * ├── ResourceExhaustedException  a size limit or cost budget was hit
 * ├── NotFoundException           an entry or request id is unknown or expired
 * ├── UnavailableException        every provider failed, or the daemon is unreachable
 * ├── DeadlineExceededException   the call's deadline passed
 * ├── UnimplementedException      the RPC is not built in this daemon version
 * └── UnauthenticatedException    a non-loopback listener wants a bearer token
 * </pre>
 *
 * <p>The standard google.rpc details the daemon attaches are decoded too: {@link #reason()}
 * (ErrorInfo, e.g. "OVERLOADED"), {@link #fieldViolations()} (BadRequest: which input to fix)
 * and {@link #retryDelay()} (RetryInfo: how long to wait before the same call).
 */
public class SluiceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;
  private final String description;
  private final transient ErrorDetails details;
  private final transient com.google.rpc.Status rich;

  public SluiceException(Status.Code code, String description, ErrorDetails details, Throwable cause) {
    super(code + ": " + description, cause);
    this.code = code;
    this.description = description;
    this.details = details;
    this.rich = cause == null ? null : StatusProto.fromThrowable(cause);
  }

  /** One input to fix: {@code field} is a dotted path such as "messages[0].role". */
  public record FieldViolation(String field, String description) {}

  /** google.rpc.ErrorInfo.reason, e.g. "INVALID_ARGUMENT" or "OVERLOADED"; "" when absent. */
  public String reason() {
    return detail(ErrorInfo.class).map(ErrorInfo::getReason).orElse("");
  }

  /** google.rpc.ErrorInfo.domain ("sluice.dev"); "" when absent. */
  public String domain() {
    return detail(ErrorInfo.class).map(ErrorInfo::getDomain).orElse("");
  }

  /** google.rpc.ErrorInfo.metadata, e.g. request_id and field; empty when absent. */
  public Map<String, String> metadata() {
    return detail(ErrorInfo.class).map(ErrorInfo::getMetadataMap).orElse(Map.of());
  }

  /** google.rpc.BadRequest field violations; empty when the input was not at fault. */
  public List<FieldViolation> fieldViolations() {
    return detail(BadRequest.class)
        .map(b -> b.getFieldViolationsList().stream()
            .map(v -> new FieldViolation(v.getField(), v.getDescription())).toList())
        .orElse(List.of());
  }

  /** google.rpc.RetryInfo: wait this long before sending the same call; empty when waiting does not help. */
  public Optional<Duration> retryDelay() {
    return detail(RetryInfo.class)
        .map(r -> Duration.ofSeconds(r.getRetryDelay().getSeconds(), r.getRetryDelay().getNanos()));
  }

  private <T extends com.google.protobuf.Message> Optional<T> detail(Class<T> type) {
    if (rich == null) {
      return Optional.empty();
    }
    for (Any any : rich.getDetailsList()) {
      if (any.is(type)) {
        try {
          return Optional.of(any.unpack(type));
        } catch (InvalidProtocolBufferException ignored) {
          return Optional.empty(); // a malformed detail is no reason to hide the status itself
        }
      }
    }
    return Optional.empty();
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The daemon's message: what to fix. */
  public String description() {
    return description;
  }

  /** The attempts made and the field to fix, when the daemon attached them. */
  public Optional<ErrorDetails> details() {
    return Optional.ofNullable(details);
  }

  /** The one translation table from grpc-java's exception to ours. */
  public static SluiceException from(StatusRuntimeException e) {
    Status status = e.getStatus();
    String desc = status.getDescription() == null ? "" : status.getDescription();
    ErrorDetails details = errorDetails(e);
    switch (status.getCode()) {
      case INVALID_ARGUMENT: return new InvalidArgumentException(desc, details, e);
      case RESOURCE_EXHAUSTED: return new ResourceExhaustedException(desc, details, e);
      case NOT_FOUND: return new NotFoundException(desc, details, e);
      case UNAVAILABLE: return new UnavailableException(desc, details, e);
      case DEADLINE_EXCEEDED: return new DeadlineExceededException(desc, details, e);
      case UNIMPLEMENTED: return new UnimplementedException(desc, details, e);
      case UNAUTHENTICATED: return new UnauthenticatedException(desc, details, e);
      default: return new SluiceException(status.getCode(), desc, details, e);
    }
  }

  private static ErrorDetails errorDetails(StatusRuntimeException e) {
    com.google.rpc.Status st = StatusProto.fromThrowable(e);
    if (st == null) {
      return null;
    }
    for (Any any : st.getDetailsList()) {
      if (any.is(ErrorDetails.class)) {
        try {
          return any.unpack(ErrorDetails.class);
        } catch (InvalidProtocolBufferException ignored) {
          return null; // a malformed detail is no reason to hide the status itself
        }
      }
    }
    return null;
  }

  public static final class InvalidArgumentException extends SluiceException {
    private static final long serialVersionUID = 1L;
    InvalidArgumentException(String d, ErrorDetails x, Throwable c) { super(Status.Code.INVALID_ARGUMENT, d, x, c); }
  }

  public static final class ResourceExhaustedException extends SluiceException {
    private static final long serialVersionUID = 1L;
    ResourceExhaustedException(String d, ErrorDetails x, Throwable c) { super(Status.Code.RESOURCE_EXHAUSTED, d, x, c); }
  }

  public static final class NotFoundException extends SluiceException {
    private static final long serialVersionUID = 1L;
    NotFoundException(String d, ErrorDetails x, Throwable c) { super(Status.Code.NOT_FOUND, d, x, c); }
  }

  public static final class UnavailableException extends SluiceException {
    private static final long serialVersionUID = 1L;
    UnavailableException(String d, ErrorDetails x, Throwable c) { super(Status.Code.UNAVAILABLE, d, x, c); }
  }

  public static final class DeadlineExceededException extends SluiceException {
    private static final long serialVersionUID = 1L;
    DeadlineExceededException(String d, ErrorDetails x, Throwable c) { super(Status.Code.DEADLINE_EXCEEDED, d, x, c); }
  }

  public static final class UnimplementedException extends SluiceException {
    private static final long serialVersionUID = 1L;
    UnimplementedException(String d, ErrorDetails x, Throwable c) { super(Status.Code.UNIMPLEMENTED, d, x, c); }
  }

  public static final class UnauthenticatedException extends SluiceException {
    private static final long serialVersionUID = 1L;
    UnauthenticatedException(String d, ErrorDetails x, Throwable c) { super(Status.Code.UNAUTHENTICATED, d, x, c); }
  }
}
