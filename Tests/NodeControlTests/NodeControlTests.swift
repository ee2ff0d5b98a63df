import DynokeeperTestSupport
import Foundation
import NodeControl
import Testing

@Suite(.tags(.integration)) struct NodeControlTests {
    @Test func commandsRunWithTheirStatusAndOutput() async throws {
        try await ShellCommand("echo fine; true", key: "test.ok").run(timeout: .seconds(10))
        let error = await #expect(throws: NodeControlError.self) {
            try await ShellCommand("echo first; echo last words >&2; exit 7", key: "redis.start").run(
                timeout: .seconds(10))
        }
        // Named by its key: the command's text may hold a password.
        #expect(error?.description == "redis.start exited with status 7: first | last words")
    }

    @Test func slowCommandsAreKilledAtTheirTimeout() async throws {
        let start = ContinuousClock.now
        let error = await #expect(throws: NodeControlError.self) {
            try await ShellCommand("sleep 30", key: "dynomite.stop").run(timeout: .milliseconds(300))
        }
        #expect(error?.description.contains("dynomite.stop did not finish within") == true)
        #expect(error?.description.contains("not run it in the foreground") == true)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func aDaemonStartedByACommandDoesNotKeepUsWaiting() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let port = try FreePort.next()
        // The shell exits at once; the daemon it leaves behind must not hold us.
        try await ShellCommand(
            "redis-server --port \(port) --bind 127.0.0.1 --dir \(folder.path) --save '' --daemonize yes --pidfile \(folder.file("pid"))",
            key: "redis.start"
        ).run(timeout: .seconds(20))
        try await PortProbe.wait(host: "127.0.0.1", port: port, open: true, timeout: .seconds(10), what: "redis")
        #expect(await PortProbe.isOpen(host: "127.0.0.1", port: port))
        let pid = Int32(
            try String(contentsOfFile: folder.file("pid"), encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines))!
        kill(pid, SIGTERM)
        try await PortProbe.wait(host: "127.0.0.1", port: port, open: false, timeout: .seconds(10), what: "redis")
        #expect(!(await PortProbe.isOpen(host: "127.0.0.1", port: port)))
    }

    @Test func childrenInheritOnlyTheirStandardStreams() async throws {
        // Our own descriptors (sockets, files) must not leak into what we start.
        let result = try await ChildProcess.run("/bin/sh", ["-c", "ls /proc/self/fd | wc -l"], timeout: .seconds(10))
        #expect(result.status == 0)
        // 0, 1, 2 and the one `ls` opens to read the folder.
        #expect(Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) == 4)
        let missing = await #expect(throws: NodeControlError.self) {
            _ = try await ChildProcess.run("no-such-program-here", [], timeout: .seconds(5))
        }
        #expect(missing?.description.contains("not installed") == true)
    }

    @Test func waitingForAPortGivesUp() async throws {
        let port = try FreePort.next()
        let error = await #expect(throws: NodeControlError.self) {
            try await PortProbe.wait(
                host: "127.0.0.1", port: port, open: true, timeout: .milliseconds(200), what: "Dynomite")
        }
        #expect(error?.description == "Dynomite: 127.0.0.1:\(port) still closed after 0.2 seconds")
    }
}
