// Decodes the rich status the daemon sends in `grpc-status-details-bin` (a google.rpc.Status):
// sluice.v1.ErrorDetails plus the standard google.rpc ErrorInfo, BadRequest and RetryInfo.
//
// The google.rpc messages are tiny and stable, so they are read here field by field with the
// protobuf runtime the generated code already uses, instead of generating all of googleapis.
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { Metadata } from "@grpc/grpc-js";
import { ErrorDetails } from "./gen/sluice/v1/sluice";

export const DETAILS_KEY = "grpc-status-details-bin";
const TYPE_PREFIX = "type.googleapis.com/";

/** One input to fix: `field` is a dotted path such as "messages[0].role". */
export interface FieldViolation {
  field: string;
  description: string;
}

/** What the daemon attached to a failed call; empty values when it attached nothing. */
export interface StatusDetails {
  /** sluice.v1.ErrorDetails: the attempts made and the field to fix, when present. */
  sluice?: ErrorDetails;
  /** google.rpc.ErrorInfo.reason, e.g. "OVERLOADED" ("" when absent). */
  reason: string;
  /** google.rpc.ErrorInfo.domain: "sluice.dev". */
  domain: string;
  /** google.rpc.ErrorInfo.metadata, e.g. { request_id, field }. */
  metadata: Record<string, string>;
  /** google.rpc.BadRequest field violations. */
  fieldViolations: FieldViolation[];
  /** google.rpc.RetryInfo in milliseconds; undefined when waiting does not help. */
  retryDelayMs?: number;
}

type Fields = Map<number, Array<number | Uint8Array>>;

/** Every field of one message: varints as numbers, length-delimited ones as bytes. */
function fields(bytes: Uint8Array): Fields {
  const reader = new BinaryReader(bytes);
  const out: Fields = new Map();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const no = tag >>> 3;
    let value: number | Uint8Array;
    switch (tag & 7) {
      case 0:
        value = Number(reader.int64());
        break;
      case 2:
        value = reader.bytes();
        break;
      default:
        reader.skip(tag & 7);
        continue;
    }
    out.set(no, [...(out.get(no) ?? []), value]);
  }
  return out;
}

const text = (v: number | Uint8Array | undefined): string =>
  v instanceof Uint8Array ? new TextDecoder().decode(v) : "";
const num = (v: number | Uint8Array | undefined): number => (typeof v === "number" ? v : 0);
const all = (f: Fields, no: number): Uint8Array[] =>
  (f.get(no) ?? []).filter((v): v is Uint8Array => v instanceof Uint8Array);

/** Decodes a serialized google.rpc.Status; unknown detail types are skipped. */
export function decodeStatus(bytes: Uint8Array): StatusDetails {
  const out: StatusDetails = { reason: "", domain: "", metadata: {}, fieldViolations: [] };
  for (const any of all(fields(bytes), 3)) {
    const a = fields(any);
    const type = text(a.get(1)?.[0]).replace(TYPE_PREFIX, "");
    const value = all(a, 2)[0] ?? new Uint8Array();
    const f = fields(value);
    if (type === "sluice.v1.ErrorDetails") {
      out.sluice = ErrorDetails.decode(value);
    } else if (type === "google.rpc.ErrorInfo") {
      out.reason = text(f.get(1)?.[0]);
      out.domain = text(f.get(2)?.[0]);
      for (const entry of all(f, 3)) {
        const e = fields(entry);
        out.metadata[text(e.get(1)?.[0])] = text(e.get(2)?.[0]);
      }
    } else if (type === "google.rpc.BadRequest") {
      for (const v of all(f, 1)) {
        const violation = fields(v);
        out.fieldViolations.push({
          field: text(violation.get(1)?.[0]),
          description: text(violation.get(2)?.[0]),
        });
      }
    } else if (type === "google.rpc.RetryInfo") {
      const delay = fields(all(f, 1)[0] ?? new Uint8Array());
      out.retryDelayMs = num(delay.get(1)?.[0]) * 1000 + num(delay.get(2)?.[0]) / 1e6;
    }
  }
  return out;
}

/** The details of a failed call's trailers; empty details when there are none or they are bad. */
export function detailsFromMetadata(metadata: Metadata | undefined): StatusDetails {
  const raw = metadata?.get(DETAILS_KEY)[0];
  if (raw instanceof Uint8Array) {
    try {
      return decodeStatus(raw);
    } catch {
      // A malformed trailer must not hide the error itself.
    }
  }
  return { reason: "", domain: "", metadata: {}, fieldViolations: [] };
}
