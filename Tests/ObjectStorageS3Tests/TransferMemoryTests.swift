import AWSSigV4
import Crypto
import DynokeeperTestSupport
import NIOCore
import ObjectStorage
import ObjectStorageS3
import Synchronization
import Testing

/// Memory held by a transfer is bounded by the buffer limit, whatever the part size and the concurrency.
@Suite struct TransferMemoryTests {
    /// How many requests are being answered at once, and the most there were.
    final class Gauge: Sendable {
        private let state = Mutex<(now: Int, peak: Int)>((0, 0))
        func enter() {
            state.withLock {
                $0.now += 1; $0.peak = max($0.peak, $0.now)
            }
        }
        func leave() { state.withLock { $0.now -= 1 } }
        var peak: Int { state.withLock { $0.peak } }
    }

    /// A fake S3 that accepts a multipart upload, each part slowly.
    static func multipartServer(_ gauge: Gauge) async throws -> FakeHTTPServer {
        try await FakeHTTPServer.start { request in
            switch (request.method, request.query) {
            case ("POST", "uploads="), ("POST", "uploads"):
                return .init(
                    body: "<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>")
            case ("PUT", _):
                gauge.enter()
                try? await Task.sleep(for: .milliseconds(100))
                gauge.leave()
                let md5 = Insecure.MD5.hash(data: request.body).map { String(format: "%02x", $0) }.joined()
                return .init(headers: [("ETag", "\"\(md5)\"")])
            case ("POST", _):
                // Not an MD5-shaped ETag: the client does not check it.
                return .init(
                    body: "<CompleteMultipartUploadResult><ETag>\"multipart-8\"</ETag></CompleteMultipartUploadResult>")
            default:
                return .init(status: 204)
            }
        }
    }

    @Test(arguments: [(16, 2...2), (64, 3...8)])
    func partsInFlightStayWithinTheBufferLimit(bufferMiB: Int, expectedPeak: ClosedRange<Int>) async throws {
        let gauge = Gauge()
        try await withResource(Self.multipartServer(gauge)) { server in
            var configuration = S3StoreConfiguration(
                location: S3Location(bucket: "bucket", prefix: "p"), endpoint: server.url, pathStyle: true,
                partSize: 5 << 20, concurrency: 8)
            configuration.bufferLimit = bufferMiB << 20
            let store = try S3Store(
                configuration: configuration,
                credentials: StaticCredentialProvider(.init(accessKeyID: "key", secretAccessKey: "secret")))
            let body = ByteStream(buffers: (0..<8).map { _ in ByteBuffer(repeating: 7, count: 5 << 20) })
            let info = try await store.put("object", body: body, options: PutOptions())
            try await store.shutdown()
            #expect(info.size == 40 << 20)
            // 16 MiB holds the part being assembled and two in flight; 64 MiB lets up to 8 (the concurrency) go.
            #expect(expectedPeak.contains(gauge.peak), "\(gauge.peak) parts at once")
        }
    }
}
