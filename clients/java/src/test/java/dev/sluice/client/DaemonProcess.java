package dev.sluice.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Starts the real Sluice daemon (the Python one from this repository) on a unix socket for
 * tests: a temp dir, --ready-file, wait for the file, SIGTERM and wait at the end.
 */
final class DaemonProcess implements AutoCloseable {
  private static final long START_TIMEOUT_MS = 90_000;

  final String target;
  final String readyJson;
  final Path dir;
  private final Process process;

  private DaemonProcess(String target, String readyJson, Path dir, Process process) {
    this.target = target;
    this.readyJson = readyJson;
    this.dir = dir;
    this.process = process;
  }

  /** Repository root: clients/java is the working directory under Maven. */
  private static Path repoRoot() {
    return Paths.get("").toAbsolutePath().getParent().getParent();
  }

  static DaemonProcess start() throws IOException, InterruptedException {
    Path root = repoRoot();
    String python = System.getenv().getOrDefault(
        "SLUICE_PYTHON", root.resolve(".venv/bin/python").toString());
    Path dir = Files.createTempDirectory("sluice-java-");
    Path sock = dir.resolve("sluice.sock");
    Path ready = dir.resolve("ready.json");
    Process p = new ProcessBuilder(
            python, root.resolve("clients/testdata/sluice_under_test.py").toString(),
            "--workdir", dir.toString(), "--",
            "--listen", "unix://" + sock, "--ready-file", ready.toString())
        .inheritIO()
        .start();
    long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
    while (System.currentTimeMillis() < deadline) {
      if (Files.exists(ready)) {
        String json = Files.readString(ready, StandardCharsets.UTF_8).trim();
        if (json.endsWith("}")) { // written whole (the daemon writes it in one go)
          return new DaemonProcess("unix://" + sock, json, dir, p);
        }
      }
      if (!p.isAlive()) {
        break;
      }
      Thread.sleep(50);
    }
    Path log = dir.resolve("daemon.log");
    String text = Files.exists(log) ? Files.readString(log) : "(no daemon.log)";
    new DaemonProcess(null, null, dir, p).close();
    throw new IllegalStateException("daemon did not become ready:\n"
        + text.substring(Math.max(0, text.length() - 4000)));
  }

  /** SIGTERM (Process.destroy on Unix), wait up to 30 s, then SIGKILL; removes the temp dir. */
  @Override
  public void close() throws IOException, InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }
}
