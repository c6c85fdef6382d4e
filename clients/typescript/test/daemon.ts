// Starts the real Sluice daemon on a unix socket for the tests (the one helper for this suite).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(__dirname, "..", "..", "..", ".."); // dist/test → clients/typescript → repo
const START_TIMEOUT_MS = 90_000;

export interface RunningDaemon {
  target: string; // unix:///…/sluice.sock
  ready: Record<string, unknown>;
  dir: string;
  stop(): Promise<void>;
}

export async function startDaemon(): Promise<RunningDaemon> {
  const python = process.env.SLUICE_PYTHON ?? join(REPO, ".venv", "bin", "python");
  const dir = mkdtempSync(join(tmpdir(), "sluice-ts-"));
  const sock = join(dir, "sluice.sock");
  const readyFile = join(dir, "ready.json");
  const proc = spawn(
    python,
    [join(REPO, "clients", "testdata", "sluice_under_test.py"), "--workdir", dir, "--",
     "--listen", `unix://${sock}`, "--ready-file", readyFile],
    { stdio: "inherit" },
  );
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  const stop = async (): Promise<void> => {
    await terminate(proc, exited);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (existsSync(readyFile)) {
      try {
        const ready = JSON.parse(readFileSync(readyFile, "utf8")) as Record<string, unknown>;
        return { target: `unix://${sock}`, ready, dir, stop };
      } catch {
        // being written; the next poll sees it whole
      }
    }
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const logFile = join(dir, "daemon.log");
  const log = existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-4000) : "(no daemon.log)";
  await stop();
  throw new Error(`daemon did not become ready (exit ${proc.exitCode}):\n${log}`);
}

async function terminate(proc: ChildProcess, exited: Promise<void>): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}
