package import DynokeeperConfiguration
import Foundation
package import Logging
import NIOCore
import NodeControl
package import ObjectStorage
import RedisClient

/// Checks stored snapshots without touching the node: every file is read back from the store, decompressed, and
/// its size and SHA-256 compared with the manifest; with `load`, the files are also fetched into a temporary folder
/// and loaded by a throwaway redis-server whose key counts are compared with the manifest's (a restore drill).
package struct SnapshotVerifier: Sendable {
    /// What was found for one snapshot.
    package struct Report: Sendable, Codable, Equatable {
        package var snapshot: String
        /// `cluster/dc/rack/tokens`.
        package var node: String
        package var files: Int
        /// Bytes read back (after decompression).
        package var bytes: Int64
        /// Each thing wrong, naming the file; empty when the snapshot is intact.
        package var problems: [String]
        /// Keys per database the throwaway Redis loaded (`--load` only).
        package var loadedKeys: [String: Int]?

        package var ok: Bool { problems.isEmpty }

        package init(
            snapshot: String, node: String, files: Int, bytes: Int64, problems: [String],
            loadedKeys: [String: Int]? = nil
        ) {
            self.snapshot = snapshot
            self.node = node
            self.files = files
            self.bytes = bytes
            self.problems = problems
            self.loadedKeys = loadedKeys
        }
    }

    package let store: any ObjectStore
    package let logger: Logger
    package let progress: (any ProgressReporter)?
    /// The keys that decrypt encrypted snapshots (`encryption.*`).
    package var keys = SnapshotKeyring.none
    /// The redis-server a drill starts (`verify.redis_server`).
    package var redisServer = "redis-server"

    package init(store: any ObjectStore, logger: Logger, progress: (any ProgressReporter)? = nil) {
        self.store = store
        self.logger = logger
        self.progress = progress
    }

    /// Verifies a node's snapshots as asked (the newest, one, or all); a snapshot whose manifest is damaged is a
    /// failed report, not a reason to check nothing.
    /// - Parameter each: Called with each report as it is ready.
    /// - Throws: `not_found` when there is no such snapshot.
    package func run(
        _ node: NodeIdentity, request: VerificationRequest, each: (Report) throws -> Void = { _ in }
    ) async throws -> [Report] {
        let scan = try await SnapshotCatalog(store: store, logger: logger).scan(of: node)
        let damaged = scan.damaged.map { damaged in
            (
                id: damaged.id, entry: SnapshotEntry?.none,
                report: Report?.some(
                    Report(
                        snapshot: damaged.id.text, node: "\(node.cluster)/\(node)", files: 0, bytes: 0,
                        problems: ["manifest: \(damaged.error)"]))
            )
        }
        var chosen = (scan.entries.map { (id: $0.id, entry: Optional($0), report: Report?.none) } + damaged)
            .sorted { $0.id > $1.id }
        if let wanted = request.snapshot {
            chosen = chosen.filter { $0.id == wanted }
        } else if !request.all {
            // The newest: not one dated in the future (a fast clock, or planted), which would stand for the node's
            // backups in the verification metrics.
            chosen = Array(chosen.filter { !$0.id.isFuture() }.prefix(1))
        }
        guard !chosen.isEmpty else {
            throw DynokeeperError(
                .notFound,
                "no \(request.snapshot.map { "snapshot \($0)" } ?? "snapshot") of \(node) in \(store.location)")
        }
        var reports: [Report] = []
        for item in chosen {
            let report: Report
            if let entry = item.entry {
                report = await verify(entry, load: request.load)
            } else {
                report = item.report!
            }
            try each(report)
            reports.append(report)
        }
        // Everything: the point-in-time archive too.
        if request.all && request.snapshot == nil, let archive = await verifyArchive(node) {
            try each(archive)
            reports.append(archive)
        }
        return reports
    }

    /// Reads back every segment of the node's point-in-time archive (decrypted, decompressed, checksum and name
    /// checked); `nil` when it has none. Never throws: what is wrong is in the report.
    func verifyArchive(_ node: NodeIdentity) async -> Report? {
        let archive = PointInTimeArchive(store: store, keys: keys)
        var report = Report(snapshot: "archive", node: "\(node.cluster)/\(node)", files: 0, bytes: 0, problems: [])
        do {
            let segments = try await archive.segments(of: node)
            guard !segments.isEmpty else { return nil }
            report.files = segments.count
            progress?.step("verify \(segments.count) archive segment(s)")
            for segment in segments {
                do {
                    let read = try await archive.read(segment, node: node)
                    report.bytes += read.records.reduce(0) { $0 + Int64($1.command.readableBytes) }
                } catch {
                    report.problems.append("\(segment.key): \(error)")
                }
            }
        } catch {
            report.problems.append("listing the archive: \(error)")
        }
        return report
    }

    /// Verifies one snapshot; never throws: what is wrong is in the report.
    /// - Parameter load: Also load it into a throwaway redis-server and compare the key counts.
    package func verify(_ entry: SnapshotEntry, load: Bool) async -> Report {
        let source = RestoreSource(entry: entry)
        var report = Report(
            snapshot: entry.id.text, node: "\(entry.node.cluster)/\(entry.node)", files: source.files.count, bytes: 0,
            problems: [])
        let downloader = SnapshotDownloader(store: store, keys: keys, logger: logger, progress: progress)
        var folder: String?
        if load {
            folder =
                FileManager.default.temporaryDirectory.appendingPathComponent(
                    "dynokeeper-verify-\(UUID().uuidString.prefix(8))"
                ).path
        }
        defer { if let folder { try? FileManager.default.removeItem(atPath: folder) } }
        for file in source.files {
            do {
                // The stored size first: a truncated object is named as such, before it is read.
                guard let info = try await store.head(file.key) else {
                    throw ObjectStoreError(.notFound, "no such object", key: file.key)
                }
                guard info.size == file.storedSize else {
                    throw DynokeeperError.snapshot(
                        "\(file.key) is \(info.size) bytes in the store, the manifest says \(file.storedSize): it is damaged or was replaced"
                    )
                }
                if let folder {
                    try await downloader.fetch(file, to: folder + "/" + file.name)
                } else {
                    let body = try await downloader.open(file)
                    try await SnapshotDownloader.reading(file) { for try await _ in body {} }
                    try downloader.check(file, body.digest)
                }
                report.bytes += file.size
            } catch {
                report.problems.append("\(file.name): \(Self.describe(error, key: file.key))")
            }
        }
        guard let folder, report.problems.isEmpty else { return report }
        do {
            let loaded = try await drill(folder, entry: entry)
            report.loadedKeys = Dictionary(uniqueKeysWithValues: loaded.map { ("db\($0.key)", $0.value.keys) })
            report.problems += Self.compare(loaded: loaded, manifest: entry.manifest)
        } catch {
            report.problems.append("load: \(error)")
        }
        return report
    }

    static func describe(_ error: any Error, key: String) -> String {
        if let error = error as? ObjectStoreError, error.code == .notFound {
            return "\(key) is missing from the store"
        }
        return "\(error)"
    }

    /// What the loaded key counts say against the manifest's: a key may be missing only if it had a TTL (it may have
    /// expired since the backup); more keys than the snapshot had is wrong when its counts are exact.
    static func compare(loaded: [Int: RedisInfo.Keyspace], manifest: SnapshotManifest) -> [String] {
        var problems: [String] = []
        let expected = manifest.keyspace
        for database in Set(expected.keys.compactMap { Int($0.dropFirst(2)) }).union(loaded.keys).sorted() {
            let want = expected["db\(database)"] ?? .init(keys: 0, expires: 0)
            let have = loaded[database]?.keys ?? 0
            if have < want.keys - want.expires || (have > want.keys && manifest.keyspaceExact) {
                problems.append(
                    "load: db\(database) holds \(have) keys, the manifest says \(want.keys) (\(want.expires) with a TTL)"
                )
            }
        }
        return problems
    }

    /// Starts a redis-server on the fetched files (loopback, a free port, no saving) and returns what it loaded.
    func drill(_ folder: String, entry: SnapshotEntry) async throws -> [Int: RedisInfo.Keyspace] {
        let port = try FreePort.find()
        let arguments =
            SnapshotExport.redisArguments(RestoreSource(entry: entry), folder: folder) + [
                "--port", String(port), "--bind", "127.0.0.1", "--daemonize", "yes", "--pidfile", folder + "/redis.pid",
                "--logfile", folder + "/redis.log", "--save", "",
            ]
        // It daemonizes and keeps its environment: never dynokeeper's, which holds the store's keys and the token.
        let started = try await ChildProcess.run(
            redisServer, arguments, environment: ShellCommand.minimalEnvironment(), timeout: .seconds(30))
        let log = { (try? String(contentsOfFile: folder + "/redis.log", encoding: .utf8)) ?? "" }
        guard started.status == 0 else {
            throw DynokeeperError.snapshot(
                "\(redisServer) did not start (status \(started.status)): \(started.output.suffix(500))")
        }
        let address = RedisAddress(host: "127.0.0.1", port: port)
        // The daemon writes its pid file a moment after the command returns (or exits first, on bad files).
        var pid: Int32?
        for _ in 0..<200 where pid == nil {
            pid = Self.pid(folder + "/redis.pid")
            if pid == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        // Only the drill's own server: one that died (on files it could not load) leaves its pid file, and the pid
        // may belong to another process by now.
        defer { if let pid, Self.isDrillServer(pid, port: port) { kill(pid, SIGKILL) } }
        guard pid != nil else {
            throw DynokeeperError.snapshot("redis-server did not start on the files: \(log().suffix(500))")
        }
        let deadline = ContinuousClock.now + .seconds(3600)
        while ContinuousClock.now < deadline {
            let keyspace = try? await RedisConnection.withConnection(to: address) { redis in
                let info = try await redis.info()
                return info.int("loading") == 0 ? info.keyspace : nil
            }
            if let keyspace { return keyspace }
            // It exits when it cannot load the files.
            if let pid, kill(pid, 0) != 0 {
                throw DynokeeperError.snapshot("redis-server refused the files: \(log().suffix(500))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DynokeeperError.snapshot("redis-server did not load the files in time: \(log().suffix(500))")
    }

    /// The throwaway server's process (nothing of it is worth saving: it is killed).
    static func pid(_ pidFile: String) -> Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
        else { return nil }
        return pid
    }
}

/// A free TCP port on loopback, as the system hands one out.
enum FreePort {
    static func find() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw DynokeeperError.snapshot("cannot find a free port: \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(socket, raw, length) == 0 && getsockname(socket, raw, &length) == 0
            }
        }
        guard bound else { throw DynokeeperError.snapshot("cannot find a free port: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

}

extension SnapshotVerifier {
    /// Whether `pid` is still the redis-server a drill started on `port` (its command line names the port).
    static func isDrillServer(_ pid: Int32, port: Int) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data, as: UTF8.self).contains(":\(port)")
    }
}
