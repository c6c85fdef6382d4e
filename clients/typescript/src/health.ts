// grpc.health.v1.Health/Check, encoded by hand: two one-field messages, so no extra package.
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";

export const HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check";
/** HealthCheckResponse.ServingStatus.SERVING */
export const SERVING = 1;

export function encodeHealthRequest(service: string): Buffer {
  const w = new BinaryWriter();
  if (service !== "") w.uint32(10).string(service); // field 1, length-delimited
  return Buffer.from(w.finish());
}

export function decodeHealthStatus(bytes: Buffer): number {
  const r = new BinaryReader(bytes);
  let statusValue = 0;
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 0) statusValue = r.int32();
    else r.skip(wireType);
  }
  return statusValue;
}
