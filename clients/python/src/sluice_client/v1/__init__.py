"""Generated stubs for sluice.v1 (by scripts/generate-clients.sh; do not edit the *_pb2* files)."""
