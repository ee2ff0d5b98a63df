import DynokeeperTestSupport
import Foundation
import Testing

/// The API over TLS, as curl, openssl and the ring's own peer client see it: HTTPS only, certificates checked,
/// renewed certificates served after SIGHUP, client certificates required when configured, `http://` peers off
/// loopback refused.
@Suite(.tags(.integration, .process)) struct TLSTests {
    static let token = "tls-test-token-0123456789"

    static func serve(
        _ folder: TemporaryDirectory, _ certificates: TestCertificates, redisPort: Int, extra: String = ""
    ) async throws -> (BackgroundProcess, Int, String) {
        let port = try FreePort.next()
        let config = """
            cluster: tls
            server:
              listen: 127.0.0.1:\(port)
              token: \(token)
              tls_cert_file: \(certificates.serverCert)
              tls_key_file: \(certificates.serverKey)
            \(extra)
            redis:
              port: \(redisPort)
            storage:
              url: \(folder.file("store"))
            """
        return (
            try await DynokeeperBinary.serve(config: config, port: port, folder: folder), port,
            folder.file("dynokeeper.yml")
        )
    }

    /// curl's exit status and the HTTP status (0 when there was none).
    static func curl(_ arguments: [String], _ url: String) async throws -> (exit: Int32, status: Int) {
        let result = try await ProcessRunner.run(
            "curl", ["-s", "-o", "/dev/null", "--max-time", "20", "-w", "%{http_code}"] + arguments + [url])
        return (result.status, Int(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
    }

    /// The subject of the certificate the server presents.
    static func presentedSubject(_ port: Int, ca: String) async throws -> String {
        let script =
            "openssl s_client -connect 127.0.0.1:\(port) -CAfile \(ca) </dev/null 2>/dev/null | openssl x509 -noout -subject"
        return try await ProcessRunner.run("sh", ["-c", script]).stdoutText
    }

    @Test func theAPIAnswersHTTPSOnlyWithItsCertificateAndServesARenewedOneAfterSIGHUP() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let folder = try TemporaryDirectory(prefix: "tls-serve")
        defer { folder.remove() }
        try await withResource(RedisServer.start()) { redis in
            let (serve, port, _) = try await Self.serve(folder, certificates, redisPort: redis.port)
            defer { Task { await serve.stop() } }
            let auth = ["-H", "Authorization: Bearer \(Self.token)"]
            let https = "https://127.0.0.1:\(port)"
            #expect(try await Self.curl(["--cacert", certificates.caFile], https + "/health").status == 200)
            #expect(try await Self.curl(["--cacert", certificates.caFile] + auth, https + "/v1/status").status == 200)
            // Not in clear, and not to a client that does not trust the node's authority.
            let plain = try await Self.curl(auth, "http://127.0.0.1:\(port)/v1/status")
            #expect(plain.status != 200, "\(plain)")
            let untrusted = try await Self.curl(auth, https + "/v1/status")
            #expect(untrusted.exit == 60, "curl: certificate not verified, \(untrusted)")
            #expect(serve.logTail(lines: 50).contains("listening on https://127.0.0.1"))
            #expect(try await Self.presentedSubject(port, ca: certificates.caFile).contains("node-1"))

            // A renewed certificate in the same files: served after SIGHUP, without a restart.
            try await certificates.issue("server", name: "node-1 renewed")
            kill(serve.pid, SIGHUP)
            try await serve.waitUntil("the reload", timeout: .seconds(20)) {
                serve.logTail(lines: 100).contains("TLS certificate reloaded")
            }
            #expect(try await Self.presentedSubject(port, ca: certificates.caFile).contains("node-1 renewed"))
            // A key that is not the certificate's (a renewal copied half-way) is refused: the pair in service stays.
            try await certificates.issue("other", name: "someone else")
            let serverKey = try Data(contentsOf: URL(fileURLWithPath: certificates.serverKey))
            try FileManager.default.removeItem(atPath: certificates.serverKey)
            try FileManager.default.copyItem(
                atPath: certificates.folder.file("other.key"), toPath: certificates.serverKey)
            kill(serve.pid, SIGHUP)
            try await serve.waitUntil("the refused mismatched pair", timeout: .seconds(20)) {
                serve.logTail(lines: 100).contains("is not the key of the certificate")
            }
            #expect(try await Self.curl(["--cacert", certificates.caFile] + auth, https + "/v1/status").status == 200)
            try serverKey.write(to: URL(fileURLWithPath: certificates.serverKey))
            // A broken file is refused, and the certificate in service stays.
            try "not a certificate".write(toFile: certificates.serverCert, atomically: true, encoding: .utf8)
            kill(serve.pid, SIGHUP)
            try await serve.waitUntil("the refused reload", timeout: .seconds(20)) {
                serve.logTail(lines: 100).contains("TLS certificate not reloaded")
            }
            #expect(try await Self.curl(["--cacert", certificates.caFile] + auth, https + "/v1/status").status == 200)
            #expect(!serve.logTail(lines: 200).contains("PRIVATE KEY"))
        }
    }

    @Test func clientCertificatesAreRequiredWhenConfiguredAndPeersPresentTheirs() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let folder = try TemporaryDirectory(prefix: "tls-mutual")
        defer { folder.remove() }
        try await withResource(RedisServer.start()) { redis in
            try await RedisDataset.populateAllTypes(redis)
            let (serve, port, _) = try await Self.serve(
                folder, certificates, redisPort: redis.port, extra: "  client_ca_file: \(certificates.caFile)")
            defer { Task { await serve.stop() } }
            let https = "https://127.0.0.1:\(port)/health"
            let trust = ["--cacert", certificates.caFile]
            #expect(try await Self.curl(trust, https).status == 0, "no client certificate: no connection")
            let member = trust + ["--cert", certificates.clientCert, "--key", certificates.clientKey]
            #expect(try await Self.curl(member, https).status == 200)
            let rogue = trust + ["--cert", certificates.rogueCert, "--key", certificates.rogueKey]
            #expect(try await Self.curl(rogue, https).status == 0, "a certificate of another authority: refused")

            // The ring's own client, as a coordinator on another node runs it: https:// peer checked against
            // ring.ca_file, the node's certificate presented as its client certificate.
            let coordinator = folder.file("coordinator.yml")
            try """
            cluster: tls
            server:
              token: \(Self.token)
              tls_cert_file: \(certificates.clientCert)
              tls_key_file: \(certificates.clientKey)
            redis:
              port: \(redis.port)
            storage:
              url: \(folder.file("store"))
            ring:
              peers: [https://127.0.0.1:\(port)]
              ca_file: \(certificates.caFile)
            """.write(toFile: coordinator, atomically: false, encoding: .utf8)
            let backup = try await DynokeeperBinary.run(["ring", "backup", "--config", coordinator])
            #expect(backup.status == 0, "\(backup.stdoutText) \(backup.stderrText)")
            #expect(backup.stdoutText.contains("succeeded"), "\(backup.stdoutText)")

            // Without ring.ca_file the system's authorities do not know the node's: the peer is unreachable.
            try String(contentsOfFile: coordinator, encoding: .utf8)
                .replacingOccurrences(of: "  ca_file: \(certificates.caFile)", with: "")
                .write(toFile: coordinator, atomically: false, encoding: .utf8)
            let untrusted = try await DynokeeperBinary.run(["ring", "backup", "--config", coordinator])
            #expect(untrusted.status != 0, "\(untrusted.stdoutText) \(untrusted.stderrText)")
        }
    }

    @Test func plainHTTPPeersOffLoopbackAreRefusedUnlessAllowed() async throws {
        let folder = try TemporaryDirectory(prefix: "tls-plain")
        defer { folder.remove() }
        let path = folder.file("dynokeeper.yml")
        try "ring:\n  peers: [http://10.0.0.7:8080, http://127.0.0.1:8080]\n".write(
            toFile: path, atomically: false, encoding: .utf8)
        let refused = try await DynokeeperBinary.run(["config", "check", "--config", path])
        #expect(refused.status != 0)
        #expect(
            refused.stderrText.contains("http://10.0.0.7:8080 is http:// to another machine"), "\(refused.stderrText)")
        try "ring:\n  peers: [http://10.0.0.7:8080]\n  allow_plaintext: true\n".write(
            toFile: path, atomically: false, encoding: .utf8)
        let allowed = try await DynokeeperBinary.run(["config", "check", "--config", path])
        #expect(!allowed.stderrText.contains("is http:// to another machine"), "\(allowed.stderrText)")

        // A certificate that does not load stops serve at once, naming the file (never the key's content).
        try "server:\n  tls_cert_file: \(folder.file("missing.pem"))\n  tls_key_file: \(folder.file("missing.key"))\n"
            .write(toFile: path, atomically: false, encoding: .utf8)
        let serve = try await DynokeeperBinary.run(["serve", "--config", path])
        #expect(serve.status != 0)
        #expect(serve.stderrText.contains("server.tls_cert_file \(folder.file("missing.pem"))"), "\(serve.stderrText)")
    }
}
