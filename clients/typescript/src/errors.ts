// Errors: every failed call rejects with a SluiceError carrying the gRPC status code.
//
//   SluiceError          .code (grpc status number), .codeName ("UNIMPLEMENTED"), .details (text)
//                        .reason ("OVERLOADED"), .fieldViolations, .retryDelayMs, .status
//                        (google.rpc ErrorInfo / BadRequest / RetryInfo and sluice.v1.ErrorDetails)
//
// Branch on `err.code === status.UNIMPLEMENTED` (status is re-exported from @grpc/grpc-js).
import { status, type ServiceError } from "@grpc/grpc-js";
import { detailsFromMetadata, type FieldViolation, type StatusDetails } from "./details";

export class SluiceError extends Error {
  /** The gRPC status code, e.g. status.INVALID_ARGUMENT. */
  readonly code: status;
  /** The status code's name, e.g. "INVALID_ARGUMENT". */
  readonly codeName: string;
  /** The daemon's message: what to fix. */
  readonly details: string;
  /** The raw grpc-js error, with metadata (e.g. grpc-status-details-bin). */
  readonly cause: ServiceError | undefined;
  /** Everything decoded from grpc-status-details-bin. */
  readonly status: StatusDetails;
  /** google.rpc.ErrorInfo.reason, e.g. "INVALID_ARGUMENT", "OVERLOADED" ("" when absent). */
  readonly reason: string;
  /** google.rpc.BadRequest: which inputs to fix. */
  readonly fieldViolations: FieldViolation[];
  /** google.rpc.RetryInfo in milliseconds; undefined when waiting does not help. */
  readonly retryDelayMs: number | undefined;

  constructor(code: status, details: string, cause?: ServiceError) {
    const codeName = status[code] ?? `CODE_${code}`;
    super(`${codeName}: ${details}`);
    this.name = "SluiceError";
    this.code = code;
    this.codeName = codeName;
    this.details = details;
    this.cause = cause;
    this.status = detailsFromMetadata(cause?.metadata);
    this.reason = this.status.reason;
    this.fieldViolations = this.status.fieldViolations;
    this.retryDelayMs = this.status.retryDelayMs;
  }
}

/** The one translation from a grpc-js error to SluiceError. */
export function fromServiceError(err: ServiceError): SluiceError {
  const code = typeof err.code === "number" ? err.code : status.UNKNOWN;
  return new SluiceError(code, err.details ?? err.message, err);
}

export function isSluiceError(err: unknown, code?: status): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code);
}
