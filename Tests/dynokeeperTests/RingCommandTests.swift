import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import Testing

/// The ring as users run it: three `dynokeeper serve` processes and the `dynokeeper ring` command, all the
/// binary under test (the release build in `make test`: its optimizer once turned the ring's peer probes into a
/// crash that the debug build never showed).
@Suite(.tags(.integration, .process)) struct RingCommandTests {
    static let token = "ring-token-0123456789abcdef"

    struct Ring {
        let nodes: [(redis: ManagedRedis, port: Int, config: String, serve: BackgroundProcess)]
        let folder: TemporaryDirectory

        static func start() async throws -> Ring {
            let folder = try TemporaryDirectory(prefix: "ring-cli")
            let ports = try (0..<3).map { _ in try FreePort.next() }
            let peers = ports.map { "http://127.0.0.1:\($0)" }.joined(separator: ", ")
            var nodes: [(ManagedRedis, Int, String, BackgroundProcess)] = []
            for (index, port) in ports.enumerated() {
                let redis = try ManagedRedis()
                try await redis.start()
                let config = folder.file("node\(index).yml")
                try """
                cluster: ring-cli
                node:
                  datacenter: dc1
                  rack: rack\(index % 2 + 1)
                  tokens: "\((index + 1) * 100)"
                redis:
                \(redis.configurationLines)
                storage:
                  url: \(folder.file("store"))
                restore:
                  enabled: true
                server:
                  listen: 127.0.0.1:\(port)
                  token: \(token)
                ring:
                  peers: [\(peers)]
                log:
                  level: warning
                """.write(toFile: config, atomically: false, encoding: .utf8)
                let serve = try BackgroundProcess(
                    try DynokeeperBinary.path, ["serve", "--config", config], logPath: folder.file("serve\(index).log"),
                    environment: DynokeeperBinary.cleanEnvironment([:]))
                try await serve.waitUntil("node \(index)'s API", timeout: .seconds(60)) { FreePort.isListening(port) }
                nodes.append((redis, port, config, serve))
            }
            return Ring(nodes: nodes, folder: folder)
        }

        func contents() async throws -> [RedisContent] {
            var result: [RedisContent] = []
            for node in nodes { result.append(try await RedisContent.read(port: node.redis.port)) }
            return result
        }

        func curl(_ method: String, _ path: String, body: String = "{}") async throws -> [String: Any] {
            let result = try await ProcessRunner.run(
                "curl",
                [
                    "-s", "--max-time", "60", "-X", method, "-H", "Authorization: Bearer \(RingCommandTests.token)",
                    "-H", "Content-Type: application/json", "-d", body,
                    "http://127.0.0.1:\(nodes[0].port)\(path)",
                ])
            return (try? JSONSerialization.jsonObject(with: result.stdout)) as? [String: Any] ?? [:]
        }

        func close() async {
            for node in nodes {
                await node.serve.stop()
                await node.redis.stopAndRemove()
            }
            folder.remove()
        }
    }

    @Test func ringBackupAndRestoreFromTheCommandLineAndTheAPI() async throws {
        try await withResource(Ring.start()) { ring in
            for (index, node) in ring.nodes.enumerated() {
                try await RedisDataset.populateAllTypes(node.redis, tag: "ring-\(index)")
            }
            let before = try await ring.contents()

            let backup = try await DynokeeperBinary.run(["ring", "backup", "--config", ring.nodes[0].config])
            #expect(backup.status == 0, "\(backup.stdoutText) \(backup.stderrText)")
            #expect(backup.stdoutText.contains(": succeeded"))
            #expect(
                backup.stdoutText.split(separator: "\n").filter { $0.contains("succeeded in") }.count == 3,
                "\(backup.stdoutText)")

            // The same through the coordinating daemon's API; the daemon lives on.
            let accepted = try await ring.curl("POST", "/v1/ring/backups")
            let id = try #require(accepted["id"] as? String, "\(accepted)")
            var job: [String: Any] = [:]
            for _ in 0..<600 {
                job = try await ring.curl("GET", "/v1/ring/jobs/\(id)")
                if job["state"] as? String != "running" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect(ring.nodes.allSatisfy { $0.serve.isRunning })

            // --json prints the ring report, each node's typed job result included.
            let plan = try await DynokeeperBinary.run([
                "ring", "restore", "--dry-run", "--json", "--config", ring.nodes[2].config,
            ])
            #expect(plan.status == 0, "\(plan.stdoutText) \(plan.stderrText)")
            let report = try APIJSON.decoder.decode(RingReport.self, from: Data(plan.stdoutText.utf8))
            #expect(report.kind == .restore && report.dryRun && report.succeeded && report.nodes.count == 3)
            #expect(
                report.nodes.allSatisfy {
                    $0.state == .succeeded && $0.result?.dryRun == true && $0.result?.snapshot == report.snapshotID
                })
            #expect(
                report.nodes.allSatisfy { ($0.result?.steps ?? []).contains { $0.name.contains("start Redis") } },
                "\(plan.stdoutText)")

            for node in ring.nodes { _ = try await node.redis.cli(["FLUSHALL"]) }
            let restore = try await DynokeeperBinary.run(["ring", "restore", "--config", ring.nodes[1].config])
            #expect(restore.status == 0, "\(restore.stdoutText) \(restore.stderrText)")
            #expect(try await ring.contents() == before)
            #expect(ring.nodes.allSatisfy { $0.serve.isRunning })
        }
    }
}

extension RingCommandTests.Ring: TestResource {}
