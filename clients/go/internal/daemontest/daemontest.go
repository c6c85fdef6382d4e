// Package daemontest starts the real Sluice daemon (the Python one from this repository) on a
// unix socket for tests: a temp dir, --ready-file, wait for the file, SIGTERM and wait at the end.
package daemontest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

const startTimeout = 90 * time.Second

// Daemon is a running daemon.
type Daemon struct {
	Target string         // unix:///…/sluice.sock
	Ready  map[string]any // the ready file's JSON
	Dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0) // …/clients/go/internal/daemontest/daemontest.go
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", ".."))
}

// Start launches the daemon and waits until it reports SERVING. Call Stop when done.
func Start() (*Daemon, error) {
	root := repoRoot()
	python := os.Getenv("SLUICE_PYTHON")
	if python == "" {
		python = filepath.Join(root, ".venv", "bin", "python")
	}
	dir, err := os.MkdirTemp("", "sluice-go-")
	if err != nil {
		return nil, err
	}
	sock, ready := filepath.Join(dir, "sluice.sock"), filepath.Join(dir, "ready.json")
	cmd := exec.Command(python, filepath.Join(root, "clients", "testdata", "sluice_under_test.py"),
		"--workdir", dir, "--", "--listen", "unix://"+sock, "--ready-file", ready)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d := &Daemon{Target: "unix://" + sock, Dir: dir, cmd: cmd}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(ready); err == nil && json.Unmarshal(data, &d.Ready) == nil {
			d.exited = exited
			return d, nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("daemon exited before ready (%v):\n%s", cmd.ProcessState, tail(log))
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.exited = exited
	log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
	d.Stop()
	return nil, fmt.Errorf("daemon not ready after %s:\n%s", startTimeout, tail(log))
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop sends SIGTERM, waits for the exit (killing after 30 s) and removes the temp dir.
func (d *Daemon) Stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	os.RemoveAll(d.Dir)
}
