package import Foundation

/// A SeaweedFS server (`weed mini`) on loopback with SigV4 authentication on, standing in for S3.
///
/// One instance serves the whole test run: ``shared()`` starts it on first use; it is killed by PID and its
/// folder removed when the test process exits.
package final class SeaweedFS: Sendable {
    package let endpoint: String
    package let port: Int
    package let accessKey = "dynokeeper-test"
    package let secretKey = "dynokeeper-test-secret-0123456789"
    package let region = "us-east-1"
    package let process: BackgroundProcess
    let directory: TemporaryDirectory

    private static let starter = SharedStarter()

    /// The instance for this test run, started on first use.
    package static func shared() async throws -> SeaweedFS {
        try await starter.get()
    }

    private init(process: BackgroundProcess, port: Int, directory: TemporaryDirectory) {
        self.process = process
        self.port = port
        self.endpoint = "http://127.0.0.1:\(port)"
        self.directory = directory
    }

    static func start() async throws -> SeaweedFS {
        var lastError: any Error = TestSupportError("SeaweedFS did not start")
        for _ in 0..<3 {
            do {
                return try await startOnce()
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    static func startOnce() async throws -> SeaweedFS {
        let directory = try TemporaryDirectory(prefix: "seaweedfs")
        let probe = try TemporaryDirectory(prefix: "seaweedfs-probe")
        defer { probe.remove() }
        let config = directory.file("s3.json")
        let identity: [String: Any] = [
            "identities": [
                [
                    "name": "test",
                    "credentials": [
                        ["accessKey": "dynokeeper-test", "secretKey": "dynokeeper-test-secret-0123456789"]
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                ]
            ]
        ]
        try JSONSerialization.data(withJSONObject: identity).write(to: URL(fileURLWithPath: config))
        // Every port SeaweedFS opens is named: it also opens each port + 10000 for gRPC.
        let ports = try FreePort.pairs(count: 5, offset: 10_000)
        try FileManager.default.createDirectory(atPath: directory.file("data"), withIntermediateDirectories: true)
        let process = try BackgroundProcess(
            "weed",
            [
                "mini", "-dir=\(directory.file("data"))", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
                "-s3.config=\(config)", "-s3.port=\(ports[0])", "-master.port=\(ports[1])",
                "-filer.port=\(ports[2])", "-volume.port=\(ports[3])", "-admin.port=\(ports[4])",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
            ],
            logPath: directory.file("weed.log"),
            currentDirectory: directory.path
        )
        let server = SeaweedFS(process: process, port: ports[0], directory: directory)
        ProcessRegistry.shared.addCleanup {
            directory.remove()
            // weed puts its local sockets in /tmp whatever -dir says; they are named after the ports.
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
            let suffixes = ports.flatMap { ["-\($0).sock", "-\($0 + 10_000).sock"] }
            for name in names where name.hasPrefix("seaweedfs-") && suffixes.contains(where: name.hasSuffix) {
                try? FileManager.default.removeItem(atPath: "/tmp/" + name)
            }
        }
        do {
            try await process.waitUntil("SeaweedFS S3 on port \(ports[0])", timeout: .seconds(60)) {
                // Ready once an authenticated call succeeds, not merely when the port is open.
                guard FreePort.isListening(ports[0]) else { return false }
                let result = try? await server.aws(["s3api", "list-buckets"], timeout: .seconds(20))
                return result?.status == 0
            }
        } catch {
            await process.stop()
            directory.remove()
            throw error
        }
        return server
    }

    /// The environment for awscli/boto3 to reach this server with the test identity.
    package var clientEnvironment: [String: String?] {
        [
            "AWS_ACCESS_KEY_ID": accessKey,
            "AWS_SECRET_ACCESS_KEY": secretKey,
            "AWS_SESSION_TOKEN": nil,
            "AWS_DEFAULT_REGION": region,
            "AWS_PROFILE": nil,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
    }

    /// Runs awscli against this server: an independent S3 client to check what dynokeeper writes.
    package func aws(
        _ arguments: [String], input: Data? = nil, timeout: Duration = .seconds(120)
    ) async throws -> ProcessResult {
        try await ProcessRunner.run(
            "aws", ["--endpoint-url", endpoint] + arguments, input: input, environment: clientEnvironment,
            timeout: timeout)
    }

    /// Runs awscli and fails unless it succeeds.
    @discardableResult
    package func awsCheck(
        _ arguments: [String], input: Data? = nil, timeout: Duration = .seconds(120)
    ) async throws -> ProcessResult {
        let result = try await aws(arguments, input: input, timeout: timeout)
        guard result.status == 0 else {
            throw TestSupportError(
                "aws \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderrText)")
        }
        return result
    }

    /// Creates a bucket with a unique name and returns the name.
    package func makeBucket(_ prefix: String = "test") async throws -> String {
        let name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        try await awsCheck(["s3api", "create-bucket", "--bucket", name])
        return name
    }
}

/// Starts one value once, even when many tests ask at the same time.
actor SharedStarter {
    private var task: Task<SeaweedFS, any Error>?

    func get() async throws -> SeaweedFS {
        if let task { return try await task.value }
        let task = Task { try await SeaweedFS.start() }
        self.task = task
        return try await task.value
    }
}
