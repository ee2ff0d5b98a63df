package import Foundation

/// A redis-server that the code under test stops and starts itself, through shell commands, as a restore
/// does: it runs daemonized from a redis.conf, with a pid file. Every start and stop is appended to an
/// events file, so that tests can check the order in which processes were stopped and started.
///
/// As in production it can run as Debian's `redis` user (its folder then belongs to `redis:redis`, mode 0770,
/// and it writes its files with umask 007 as Debian's unit does), and under a supervisor: a loop that starts
/// it again whenever it exits, as systemd's `Restart=always` does, unless a hold file says it was stopped on
/// purpose (what `systemctl stop` means). ``startCommand`` and ``stopCommand`` then go through the supervisor.
package final class ManagedRedis: Sendable {
    package let directory: TemporaryDirectory
    package let port: Int
    package let confPath: String
    package let pidPath: String
    package let eventsPath: String
    /// The user Redis runs as, `nil` for this process's.
    package let user: SystemUsers.Account?
    /// The supervisor loop, when there is one.
    package let supervisor: BackgroundProcess?
    let umask: String

    /// - Parameters:
    ///   - appendOnly: Whether Redis loads (and writes) its AOF.
    ///   - events: The shared events file (one per test), created if needed.
    ///   - extra: More redis.conf lines.
    ///   - asRedisUser: Run Redis as Debian's `redis` user (needs root).
    ///   - supervised: Run Redis under a supervisor loop that restarts it when it exits.
    ///   - umask: The umask Redis writes its files with (Debian's unit: 007).
    package init(
        appendOnly: Bool = false, events: String? = nil, extra: [String] = [], asRedisUser: Bool = false,
        supervised: Bool = false,
        umask: String = "007"
    ) throws {
        directory = try TemporaryDirectory(prefix: "managed-redis")
        port = try FreePort.next()
        confPath = directory.file("redis.conf")
        pidPath = directory.file("redis.pid")
        eventsPath = events ?? directory.file("events")
        user = asRedisUser ? SystemUsers.redis : nil
        self.umask = umask
        if asRedisUser && (user == nil || !SystemUsers.isRoot) {
            throw TestSupportError("running Redis as the redis user needs root and the redis-server package")
        }
        let lines =
            [
                "port \(port)", "bind 127.0.0.1", "dir \(directory.file("data"))", "save \"\"",
                "daemonize \(supervised ? "no" : "yes")",
                "pidfile \(pidPath)", "logfile \(directory.file("redis.log"))",
                "appendonly \(appendOnly ? "yes" : "no")",
                "enable-debug-command local",
            ] + extra
        try FileManager.default.createDirectory(atPath: directory.file("data"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory.file("control"), withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(toFile: confPath, atomically: false, encoding: .utf8)
        if !FileManager.default.fileExists(atPath: eventsPath) {
            try Data().write(to: URL(fileURLWithPath: eventsPath))
        }
        if let user {
            SystemUsers.chown(directory.path, to: user)
            // The events file and the supervisor's hold file are written by the commands dynokeeper runs, as any user.
            chmod(eventsPath, 0o666)
            chmod(directory.file("control"), 0o777)
        }
        if supervised {
            // Starts Redis again whenever it exits, unless held; the hold file is there at first, so that the test
            // starts Redis with start().
            try Data().write(to: URL(fileURLWithPath: directory.file("control/hold")))
            chmod(directory.file("control/hold"), 0o666)
            let run = (user == nil ? "" : SystemUsers.asRedis + " ") + "redis-server \(confPath)"
            let loop = """
                umask \(umask)
                while [ ! -f \(directory.file("control/quit")) ]; do
                  if [ -f \(directory.file("control/hold")) ]; then sleep 0.02; continue; fi
                  echo supervisor-start >> \(eventsPath)
                  \(run)
                  sleep 0.05
                done
                """
            supervisor = try BackgroundProcess("/bin/sh", ["-c", loop], logPath: directory.file("supervisor.log"))
        } else {
            supervisor = nil
        }
        let pidPath = pidPath, marker = ":\(port)", quit = directory.file("control/quit")
        ProcessRegistry.shared.addCleanup {
            FileManager.default.createFile(atPath: quit, contents: nil)
            Self.kill(pidFile: pidPath, ifCommandLineContains: marker)
        }
    }

    /// The data folder.
    package var dataPath: String { directory.file("data") }

    /// The command that starts it (for `redis.start`): through the supervisor when there is one, else as its user
    /// with Debian's umask.
    package var startCommand: String {
        if supervisor != nil { return "echo redis-start >> \(eventsPath) && rm -f \(directory.file("control/hold"))" }
        let run = (user == nil ? "" : SystemUsers.asRedis + " ") + "redis-server \(confPath)"
        return "echo redis-start >> \(eventsPath) && umask \(umask) && \(run)"
    }

    /// The command that stops it without saving (for `redis.stop`); with a supervisor, it holds it first, as
    /// `systemctl stop` would.
    package var stopCommand: String {
        let hold = supervisor == nil ? "" : "touch \(directory.file("control/hold")) && "
        return "echo redis-stop >> \(eventsPath) && \(hold)redis-cli -p \(port) shutdown nosave"
    }

    /// The `redis:` section of a dynokeeper configuration for this server (indented under `redis:`).
    package var configurationLines: String {
        """
          port: \(port)
          conf: \(confPath)
          start: "\(startCommand)"
          stop: "\(stopCommand)"
        """
    }

    /// Starts it with ``startCommand`` and waits until it answers.
    package func start() async throws {
        try await ProcessRunner.check("/bin/sh", ["-c", startCommand])
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            if let pong = try? await cli(["PING"]), pong.stdoutText.contains("PONG") { return }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestSupportError("managed redis-server on port \(port) did not start: \(log())")
    }

    /// Stops it (without saving) and waits until it is gone; a supervisor is told to hold it.
    package func stop() async {
        if supervisor != nil { FileManager.default.createFile(atPath: directory.file("control/hold"), contents: nil) }
        _ = try? await cli(["SHUTDOWN", "NOSAVE"])
        let deadline = ContinuousClock.now + .seconds(10)
        while FreePort.isListening(port) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        Self.kill(pidFile: pidPath, ifCommandLineContains: ":\(port)")
    }

    /// Stops it (and its supervisor) and removes its folder.
    package func stopAndRemove() async {
        FileManager.default.createFile(atPath: directory.file("control/quit"), contents: nil)
        await stop()
        await supervisor?.stop(grace: .seconds(2))
        directory.remove()
    }

    package func cli(_ arguments: [String], input: Data? = nil) async throws -> ProcessResult {
        try await ProcessRunner.run("redis-cli", ["-p", String(port)] + arguments, input: input, timeout: .seconds(60))
    }

    /// The server's process id, from its pid file.
    package var pid: Int32? {
        (try? String(contentsOfFile: pidPath, encoding: .utf8)).flatMap {
            Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// The lines of the events file.
    package func events() -> [String] {
        ((try? String(contentsOfFile: eventsPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    package func log() -> String { (try? String(contentsOfFile: directory.file("redis.log"), encoding: .utf8)) ?? "" }

    /// Kills the process a pid file names, but only if it is still the one the file was written for: pid files
    /// outlive their processes (nutcracker leaves its own behind) and this machine reuses pids quickly
    /// (pid_max can be 32768), so a bare kill could hit another test's server.
    static func kill(pidFile: String, ifCommandLineContains marker: String) {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
        else { return }
        // Arguments are NUL-separated; Redis rewrites its title to "redis-server 127.0.0.1:PORT".
        let words = String(decoding: commandLine, as: UTF8.self).replacingOccurrences(of: "\u{0}", with: " ")
        guard words.contains(marker) else { return }
        Foundation.kill(pid, SIGKILL)
    }
}

extension ManagedRedis: TestResource {
    /// Stops it and its supervisor and removes its folder (``stopAndRemove()``).
    package func close() async { await stopAndRemove() }
}

/// Debian's nutcracker (twemproxy, Dynomite's ancestor) in front of a test Redis: a long-running process
/// that listens and proxies like Dynomite, stopped and started through shell commands.
package final class StandInDynomite: Sendable {
    package let directory: TemporaryDirectory
    package let port: Int
    package let statsPort: Int
    package let eventsPath: String
    let confPath: String
    let pidPath: String

    /// - Parameters:
    ///   - redisPort: The Redis it proxies to.
    ///   - events: The events file shared with the test's Redis.
    package init(redisPort: Int, events: String) throws {
        directory = try TemporaryDirectory(prefix: "dynomite")
        port = try FreePort.next()
        statsPort = try FreePort.next()
        eventsPath = events
        confPath = directory.file("nutcracker.yml")
        pidPath = directory.file("nutcracker.pid")
        try """
        dyn_o_mite:
          listen: 127.0.0.1:\(port)
          redis: true
          servers:
           - 127.0.0.1:\(redisPort):1
        """.write(toFile: confPath, atomically: false, encoding: .utf8)
        let pidPath = pidPath, marker = confPath
        ProcessRegistry.shared.addCleanup { ManagedRedis.kill(pidFile: pidPath, ifCommandLineContains: marker) }
    }

    package var startCommand: String {
        "echo dynomite-start >> \(eventsPath) && nutcracker -d -c \(confPath) -p \(pidPath) -o \(directory.file("nutcracker.log")) -s \(statsPort) -a 127.0.0.1"
    }

    /// nutcracker leaves its pid file behind and pids are reused quickly here (pid_max 32768), so the pid is killed
    /// only while its command line still names this stand-in's configuration: a second stop (a restore stops a
    /// Dynomite that is already down) must not kill another test's Redis.
    package var stopCommand: String {
        "echo dynomite-stop >> \(eventsPath) && p=$(cat \(pidPath) 2>/dev/null) && "
            + "grep -qaF -- \(confPath) /proc/$p/cmdline 2>/dev/null && kill $p || true"
    }

    /// A dynomite.yml describing this node, for `node.dynomite_yaml`.
    package func dynomiteYAML(
        redisPort: Int, datacenter: String = "dc1", rack: String = "rack1", tokens: String = "0"
    ) throws -> String {
        let path = directory.file("dynomite.yml")
        try """
        dyn_o_mite:
          datacenter: \(datacenter)
          rack: \(rack)
          tokens: '\(tokens)'
          listen: 127.0.0.1:\(port)
          dyn_listen: 127.0.0.1:\(port + 1)
          stats_listen: 127.0.0.1:\(statsPort)
          servers:
          - 127.0.0.1:\(redisPort):1
          data_store: 0
        """.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    package func start() async throws {
        try await ProcessRunner.check("/bin/sh", ["-c", startCommand])
        let deadline = ContinuousClock.now + .seconds(20)
        while !FreePort.isListening(port) {
            guard ContinuousClock.now < deadline else { throw TestSupportError("nutcracker did not start") }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    package var isRunning: Bool { FreePort.isListening(port) }

    package func stopAndRemove() async {
        ManagedRedis.kill(pidFile: pidPath, ifCommandLineContains: confPath)
        directory.remove()
    }
}
