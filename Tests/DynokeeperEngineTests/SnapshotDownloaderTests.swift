import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

@testable import DynokeeperEngine

@Suite struct SnapshotDownloaderTests {
    /// A download that fails leaves no write running: writes used to be chained in unstructured tasks, and the one
    /// under way went on after `fetch` had thrown (while the restore removed its files and rolled back).
    ///
    /// The first chunk is large, so that writing it takes far longer than the body needs to fail next: without the
    /// task group the file grew after `fetch` returned. With it the file is final when `fetch` returns, whatever the
    /// timing; only a machine that stalls the download task for as long as the write lasts could hide the bug.
    @Test func noWriteOutlivesAFailedDownload() async throws {
        let folder = try TemporaryDirectory(prefix: "download")
        defer { folder.remove() }
        let chunk = 64 << 20
        let store = FailingDownloadStore(first: ByteBuffer(repeating: 7, count: chunk))
        let file = RestoreSource.File(
            key: "node/dump.rdb", name: "dump.rdb", compressed: false, size: Int64(2 * chunk),
            storedSize: Int64(2 * chunk), sha256: nil)
        let path = folder.file("dump.rdb")
        let downloader = SnapshotDownloader(store: store, keys: .none, logger: Engine.logger, progress: nil)
        await #expect(throws: FailingDownloadStore.CutOff.self) { try await downloader.fetch(file, to: path) }
        let sizeAtReturn = try Self.size(path)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try Self.size(path) == sizeAtReturn)
        #expect(sizeAtReturn == 0 || sizeAtReturn == chunk, "the write finished or never started")
    }

    static func size(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }
}

/// A store whose downloads send one buffer, then fail.
struct FailingDownloadStore: ObjectStore {
    struct CutOff: Error {}

    let first: ByteBuffer

    var location: String { "failing://" }

    func put<Body: AsyncSequence & Sendable>(
        _ key: String, body: Body, options: PutOptions
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        throw CutOff()
    }

    func get(_ key: String, range: Range<Int64>?) async throws -> ObjectDownload {
        let size = Int64(first.readableBytes) * 2
        let (body, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
        continuation.yield(first)
        continuation.finish(throwing: CutOff())
        return ObjectDownload(info: ObjectInfo(key: key, size: size), range: 0..<size, body: ByteStream(body))
    }

    func head(_ key: String) async throws -> ObjectInfo? { nil }

    func list(prefix: String, delimiter: String?, continuation: String?, maxKeys: Int) async throws -> ObjectListing {
        throw CutOff()
    }

    func delete(_ keys: [String]) async throws { throw CutOff() }
}
