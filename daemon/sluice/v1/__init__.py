"""Generated protobuf and gRPC code for sluice.v1 (do not edit; run `make generate`)."""
