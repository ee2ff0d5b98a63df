import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

/// What only the local store has: files on disk.
@Suite struct LocalDirectoryStoreTests {
    @Test func objectsAreFilesUnderTheRoot() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = LocalDirectoryStore(root: folder.path)
        try await store.put("cluster/dc1/rack1/0/dump.rdb.zst", bytes: ByteBuffer(string: "bytes"))
        let onDisk = try String(contentsOfFile: folder.path + "/cluster/dc1/rack1/0/dump.rdb.zst", encoding: .utf8)
        #expect(onDisk == "bytes")
        #expect(store.location == "file://\(folder.path)")
    }

    /// The store holds the whole dataset: files and folders are the owner's only, unless configured otherwise.
    @Test func filesAndFoldersAreTheOwnersOnlyByDefault() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        func mode(_ path: String) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        }
        let store = LocalDirectoryStore(root: folder.path + "/store")
        try await store.put("cluster/dc1/rack1/0/dump.rdb.zst", bytes: ByteBuffer(string: "bytes"))
        #expect(try mode(folder.path + "/store") == 0o700)
        #expect(try mode(folder.path + "/store/cluster/dc1") == 0o700)
        #expect(try mode(folder.path + "/store/cluster/dc1/rack1/0/dump.rdb.zst") == 0o600)

        let shared = LocalDirectoryStore(root: folder.path + "/shared", fileMode: 0o640, folderMode: 0o750)
        try await shared.put("cluster/x", bytes: ByteBuffer(string: "bytes"))
        #expect(try mode(folder.path + "/shared/cluster") == 0o750 & ~Int(Self.umask))
        #expect(try mode(folder.path + "/shared/cluster/x") == 0o640 & ~Int(Self.umask))
    }

    /// Empty folders a day old go in one pass, parents emptied by it included, and a dry run counts exactly those.
    @Test func oldEmptyFoldersGoInOnePassAndTheDryRunCountsThem() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = LocalDirectoryStore(root: folder.path)
        let nested = ["a", "a/b", "a/b/c", "a/d"]
        for path in nested {
            try FileManager.default.createDirectory(atPath: folder.path + "/" + path, withIntermediateDirectories: true)
        }
        // Touched two days ago, children before parents (creating a child touched its parent).
        var old = [
            timeval(tv_sec: time(nil) - 2 * 86_400, tv_usec: 0), timeval(tv_sec: time(nil) - 2 * 86_400, tv_usec: 0),
        ]
        for path in nested.reversed() { utimes(folder.path + "/" + path, &old) }
        let cutoff = Date().addingTimeInterval(-86_400)
        #expect(try await store.removeEmptyFolders(prefix: "", olderThan: cutoff, dryRun: true) == 4)
        #expect(FileManager.default.fileExists(atPath: folder.path + "/a/b/c"))
        #expect(try await store.removeEmptyFolders(prefix: "", olderThan: cutoff) == 4)
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/a"))
    }

    /// The process's umask, read without changing it (umask(2) would, for every test running meanwhile).
    static var umask: mode_t {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") }
        return mode_t(line.flatMap { UInt32($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) } ?? 0o022)
    }

    /// A prefix never takes a listing outside the root (a token holder asking for `..` must not walk `/`).
    @Test func listingPrefixesStayUnderTheRoot() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = LocalDirectoryStore(root: folder.path + "/store")
        _ = try await store.put("c/a", bytes: ByteBuffer(string: "x"))
        for prefix in ["../", "..", "c/../", "/etc/", "c//"] {
            await #expect(throws: ObjectStoreError.self, "\(prefix)") {
                _ = try await store.list(prefix: prefix, delimiter: nil, continuation: nil, maxKeys: 10)
            }
        }
        #expect(try await store.listAll(prefix: "c/").map(\.key) == ["c/a"])
        #expect(try await store.listAll(prefix: "c/.dyno").isEmpty)
        #expect(try await store.listAll(prefix: "").map(\.key) == ["c/a"])
    }

    @Test func relativeRootsResolveAgainstTheWorkingDirectory() {
        let store = LocalDirectoryStore(root: "var/backups")
        #expect(store.root == FileManager.default.currentDirectoryPath + "/var/backups")
    }

    @Test func leftoverTemporaryFilesAreNotObjects() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = LocalDirectoryStore(root: folder.path)
        try await store.put("a/real", bytes: ByteBuffer(string: "x"))
        // What a crash during a write leaves behind.
        try Data("partial".utf8).write(to: URL(fileURLWithPath: folder.path + "/a/.dynokeeper-tmp-1234"))
        #expect(try await store.listAll(prefix: "").map(\.key) == ["a/real"])
        let error = await #expect(throws: ObjectStoreError.self) {
            try await store.put("a/.dynokeeper-tmp-1234", bytes: ByteBuffer(string: "y"))
        }
        #expect(error?.code == .invalidKey)
    }

    @Test func aKeyUnderAnExistingObjectIsAClearError() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = LocalDirectoryStore(root: folder.path)
        try await store.put("a", bytes: ByteBuffer(string: "x"))
        let error = await #expect(throws: ObjectStoreError.self) {
            try await store.put("a/b", bytes: ByteBuffer(string: "y"))
        }
        #expect(error?.message.contains("cannot create folder") == true)
        #expect(String(buffer: try await store.getBytes("a")) == "x")
    }

    @Test func etagChangesWhenTheObjectIsReplaced() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = LocalDirectoryStore(root: folder.path)
        let first = try await store.put("k", bytes: ByteBuffer(string: "one"))
        let second = try await store.put("k", bytes: ByteBuffer(string: "two"))
        #expect(first.etag != second.etag)
        #expect(try await store.head("k")?.etag == second.etag)
    }
}
