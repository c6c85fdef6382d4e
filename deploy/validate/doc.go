// Package validate checks deploy/ offline: every kustomization builds (kustomize as a
// library), every resource decodes strictly into its real Kubernetes (or Prometheus
// Operator) Go type, and the pod specs agree with the daemon's config they ship.
// Run it with `go test ./...` from this directory (scripts/check-deploy.sh does).
package validate
