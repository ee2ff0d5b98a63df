import Foundation

/// A fault-injecting HTTP proxy in front of the test S3 server (`Tests/FaultProxy/fault_proxy.py`): SlowDown
/// answers, connections reset before the response, GET bodies cut at half, PUT bodies cut off, latency, or a dead
/// store, each on every Nth request of its kind.
package final class FaultProxy: TestResource {
    package struct Faults: Sendable {
        package var slowdownEvery = 0
        package var resetEvery = 0
        package var cutGetEvery = 0
        package var cutPutEvery = 0
        package var latencyMilliseconds = 0
        package var dead = false

        package init(
            slowdownEvery: Int = 0, resetEvery: Int = 0, cutGetEvery: Int = 0, cutPutEvery: Int = 0,
            latencyMilliseconds: Int = 0,
            dead: Bool = false
        ) {
            self.slowdownEvery = slowdownEvery
            self.resetEvery = resetEvery
            self.cutGetEvery = cutGetEvery
            self.cutPutEvery = cutPutEvery
            self.latencyMilliseconds = latencyMilliseconds
            self.dead = dead
        }

        /// Everything at once, at rates that make every transfer of a few parts meet several faults.
        package static let mixed = Faults(
            slowdownEvery: 10, resetEvery: 7, cutGetEvery: 3, cutPutEvery: 3, latencyMilliseconds: 2)

        var arguments: [String] {
            var result = [
                "--slowdown-every", String(slowdownEvery), "--reset-every", String(resetEvery), "--cut-get-every",
                String(cutGetEvery), "--cut-put-every", String(cutPutEvery), "--latency-ms",
                String(latencyMilliseconds),
            ]
            if dead { result.append("--dead") }
            return result
        }
    }

    package let port: Int
    let process: BackgroundProcess
    let folder: TemporaryDirectory

    package var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: BackgroundProcess, folder: TemporaryDirectory) {
        self.port = port
        self.process = process
        self.folder = folder
    }

    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`).
    package static func start(upstream: String, faults: Faults) async throws -> FaultProxy {
        let folder = try TemporaryDirectory(prefix: "fault-proxy")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FaultProxy/fault_proxy.py").path
        let hostAndPort = upstream.replacingOccurrences(of: "http://", with: "")
        let portFile = folder.file("port")
        let process = try BackgroundProcess(
            "python3", [script, "--upstream", hostAndPort, "--port-file", portFile] + faults.arguments,
            logPath: folder.file("proxy.log"))
        try await process.waitUntil("the fault proxy to listen", timeout: .seconds(20)) {
            FileManager.default.fileExists(atPath: portFile)
        }
        guard
            let port = Int(
                (try String(contentsOfFile: portFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw TestSupportError("the fault proxy wrote no port")
        }
        return FaultProxy(port: port, process: process, folder: folder)
    }

    /// How many faults of each kind it injected so far (`slowdown`, `reset`, `cut_get`, `cut_put`, `dead`).
    package func injected() -> [String: Int] {
        let text = (try? String(contentsOfFile: folder.file("port.faults"), encoding: .utf8)) ?? ""
        var counts: [String: Int] = [:]
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: "=")
            if parts.count == 2, let value = Int(parts[1]) { counts[String(parts[0])] = value }
        }
        return counts
    }

    /// Stops the proxy and removes its folder.
    package func close() async {
        await process.stop()
        folder.remove()
    }
}
