import DynokeeperTestSupport
import Foundation
import NIOCore
import Testing

@testable import ObjectStorage

/// New files written in pieces of any size, through direct I/O (whole aligned blocks, the last one through the page
/// cache), through the page cache, and through NIOFileSystem.
@Suite struct LocalFileWriterTests {
    /// Sizes around the 4 KiB block and the 4 MiB staging buffer, in an order that leaves every offset unaligned.
    static let pieces = [1, 4095, 4096, 4097, (3 << 20) + 5, 4 << 20, (5 << 20) + 1, 100, 0, 12_345]

    static func bytes(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ seed) }
    }

    static func write(to writer: (ByteBuffer) async throws -> Void) async throws -> [UInt8] {
        var expected: [UInt8] = []
        for (index, size) in pieces.enumerated() {
            let piece = bytes(size, seed: index)
            expected += piece
            try await writer(ByteBuffer(bytes: piece))
        }
        return expected
    }

    /// Writes the pieces with `writer`, flushes it, and returns what was written and what the file at `path` holds.
    static func writeAndRead(
        _ writer: LocalFileWriter, at path: String
    ) async throws -> (
        written: [UInt8], read: [UInt8]
    ) {
        let written = try await write { try await writer.write($0) }
        try await writer.sync()
        return (written, try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
    }

    @Test(arguments: [true, false])
    func directWritesKeepEveryByteInOrder(directIO: Bool) async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.path + "/file"
        let writer = try await DirectFileWriter.create(path, mode: 0o600, directIO: directIO)
        // The temporary folder is on ext4 here, which has direct I/O.
        #expect(writer.direct == directIO)
        let expected = try await Self.write { try await writer.write($0) }
        try await writer.sync()
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written.count == expected.count)
        #expect(written == expected)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    /// tmpfs (direct I/O since Linux 6.6, refused before) and NIOFileSystem's handle give the same file.
    @Test(arguments: [(true, false), (false, false), (false, true)])
    func theWriterGivesTheSameFileOnTmpfsAndThroughNIO(direct: Bool, writeBehind: Bool) async throws {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = base + "/dynokeeper-writer-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try await LocalFileWriter.create(path, mode: 0o600, direct: direct, writeBehind: writeBehind)
        let (written, read) = try await Self.writeAndRead(writer, at: path)
        #expect(read == written)
    }

    /// Through the page cache, with every 8 MiB handed to the disk as it is written (the pieces add up to 12 MiB).
    @Test func writingBehindKeepsEveryByteInOrder() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.path + "/file"
        let writer = try await LocalFileWriter.create(path, mode: 0o600, writeBehind: true)
        let (written, read) = try await Self.writeAndRead(writer, at: path)
        #expect(written.count > Int(LocalFileWriter.writeBehindBytes))
        #expect(read == written)
    }

    @Test func anExistingFileIsNeitherReplacedNorTouched() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.path + "/file"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: LocalFileError.self) {
            _ = try await LocalFileWriter.create(path, mode: 0o600, direct: true)
        }
        #expect(error?.description == "cannot open \(path): File exists")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep")
    }

    /// A file written with direct I/O does not fill the page cache (only its last partial block goes through it).
    @Test func directWritesLeaveThePageCacheAlone() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.path + "/file"
        let writer = try await LocalFileWriter.create(path, mode: 0o600, direct: true)
        try await writer.write(ByteBuffer(bytes: Self.bytes((32 << 20) + 100, seed: 2)))
        try await writer.sync()
        #expect(try Self.cachedPages(path) <= 1)
        let buffered = folder.path + "/buffered"
        let other = try await LocalFileWriter.create(buffered, mode: 0o600)
        try await other.write(ByteBuffer(bytes: Self.bytes(32 << 20, seed: 2)))
        try await other.sync()
        #expect(try Self.cachedPages(buffered) > 4000)
    }

    /// How many of the file's pages are in the page cache (mincore).
    static func cachedPages(_ path: String) throws -> Int {
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var info = stat()
        try #require(fstat(descriptor, &info) == 0)
        let size = Int(info.st_size)
        let mapped = try #require(mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0))
        try #require(mapped != MAP_FAILED)
        defer { munmap(mapped, size) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var resident = [UInt8](repeating: 0, count: (size + pageSize - 1) / pageSize)
        try #require(mincore(mapped, size, &resident) == 0)
        return resident.filter { $0 & 1 == 1 }.count
    }
}
