import DynokeeperTestSupport
import Foundation
import Testing

/// What a web page opened on the node could make a browser send to a tokenless loopback `serve`: a form or
/// `text/plain` POST, a request from another origin, a DNS-rebound host name, a cross-site fetch, an image that
/// GETs a Dynomite-manager admin path. Each is refused; dynokeeper's own clients (curl, peers) still get through.
@Suite(.tags(.integration, .process)) struct BrowserForgeryTests {
    static func serve(
        _ folder: TemporaryDirectory, extra: String = ""
    ) async throws -> (BackgroundProcess, Int) {
        let port = try FreePort.next()
        let config = """
            cluster: forgery
            server:
              listen: 127.0.0.1:\(port)
            \(extra)
            redis:
              port: \(try FreePort.next())
            storage:
              url: \(folder.file("store"))
            restore:
              enabled: true
            """
        return (try await DynokeeperBinary.serve(config: config, port: port, folder: folder), port)
    }

    /// The status and body of a curl call with these extra arguments.
    static func curl(_ port: Int, _ path: String, _ arguments: [String]) async throws -> (Int, String) {
        let result = try await ProcessRunner.run(
            "curl",
            ["-s", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}"] + arguments + [
                "http://127.0.0.1:\(port)\(path)"
            ])
        let lines = result.stdoutText.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test func forgedRequestsAreRefusedAndRealClientsServed() async throws {
        let folder = try TemporaryDirectory(prefix: "forgery")
        defer { folder.remove() }
        let (serve, port) = try await Self.serve(folder)
        defer { Task { await serve.stop() } }
        let json = ["-H", "Content-Type: application/json"]
        let refused: [(String, String, [String], Int)] = [
            ("a text/plain POST", "/v1/restores", ["-X", "POST", "-H", "Content-Type: text/plain", "-d", "{}"], 415),
            ("a form POST", "/v1/backups", ["-X", "POST", "-d", "type=rdb"], 415),
            ("a POST without a type", "/v1/backups", ["-X", "POST"], 415),
            (
                "another origin", "/v1/restores",
                ["-X", "POST", "-H", "Origin: http://evil.example", "-d", "{}"] + json, 403
            ),
            (
                "another scheme", "/v1/restores",
                ["-X", "POST", "-H", "Origin: https://127.0.0.1:\(port)", "-d", "{}"] + json, 403
            ),
            (
                "a rebound host name", "/v1/restores",
                ["-X", "POST", "-H", "Host: rebind.evil.example", "-d", "{}"] + json, 403
            ),
            ("a rebound host name, GET", "/v1/status", ["-H", "Host: rebind.evil.example:\(port)"], 403),
            (
                "a cross-site fetch", "/v1/backups",
                ["-X", "POST", "-H", "Sec-Fetch-Site: cross-site", "-d", "{}"] + json, 403
            ),
            ("a Dynomite-manager GET that acts", "/REST/v1/admin/restore", [], 403),
            ("a Dynomite-manager GET that acts", "/REST/v1/admin/stopstorageprocess", [], 403),
        ]
        for (label, path, arguments, status) in refused {
            let (code, body) = try await Self.curl(port, path, arguments)
            #expect(code == status, "\(label): \(code) \(body)")
        }
        #expect(!serve.logTail(lines: 200).contains("restore started"), "no job ran")
        let (code, body) = try await Self.curl(port, "/v1/jobs", [])
        #expect(code == 200 && body.contains("[]"), "no job was accepted: \(body)")

        // What dynokeeper's clients send gets through: a JSON POST (with or without a body), the same origin,
        // localhost, and Dynomite-manager's status.
        #expect(try await Self.curl(port, "/v1/status", ["-H", "Host: localhost:\(port)"]).0 == 200)
        #expect(try await Self.curl(port, "/v1/status", ["-H", "Origin: http://127.0.0.1:\(port)"]).0 == 200)
        #expect(try await Self.curl(port, "/REST/v1/admin/status", []).0 == 200)
        let backup = try await Self.curl(
            port, "/v1/backups", ["-X", "POST", "-H", "Content-Type: application/json; charset=utf-8"])
        #expect(backup.0 == 202, "\(backup.1)")
    }

    @Test func oldScriptsCanKeepTokenlessDynomiteManagerGETsWithAWarning() async throws {
        let folder = try TemporaryDirectory(prefix: "forgery")
        defer { folder.remove() }
        let (serve, port) = try await Self.serve(folder, extra: "  dynomite_manager_tokenless: true")
        defer { Task { await serve.stop() } }
        // Served (it fails: no Redis listens), not refused.
        let (code, body) = try await Self.curl(port, "/REST/v1/admin/takesnapshot", [])
        #expect(code == 500, "\(body)")
        #expect(!body.contains("forbidden"))
        #expect(serve.logTail(lines: 200).contains("any web page opened on this host can call them"))
    }

    /// With a token the API is no longer loopback-only, but a name that is nobody's name for this node (a DNS
    /// rebinding) is still refused; addresses, localhost, the machine's name and server.allowed_hosts are not.
    @Test func aListenerWithATokenRefusesNamesThatAreNotItsOwn() async throws {
        let folder = try TemporaryDirectory(prefix: "forgery-token")
        defer { folder.remove() }
        let token = "forgery-test-token-0123456789"
        let (serve, port) = try await Self.serve(
            folder, extra: "  token: \(token)\n  allowed_hosts: [dynokeeper.internal.example]")
        defer { Task { await serve.stop() } }
        let auth = ["-H", "Authorization: Bearer \(token)"]
        let machine = ProcessInfo.processInfo.hostName
        for (host, status) in [
            ("rebind.evil.example", 403), ("127.0.0.1:\(port)", 200), ("localhost", 200),
            ("dynokeeper.internal.example:\(port)", 200), ("DYNOKEEPER.internal.example", 200), (machine, 200),
        ] {
            let (code, body) = try await Self.curl(port, "/v1/status", auth + ["-H", "Host: \(host)"])
            #expect(code == status, "\(host): \(code) \(body)")
        }
    }
}
