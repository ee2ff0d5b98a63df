import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import ObjectStorageS3
import Testing

/// `dynokeeper gc`: what interrupted backups leave goes, complete snapshots and anything recent stay.
@Suite(.tags(.integration)) struct StoreGarbageCollectorTests {
    @Test(arguments: StoreKind.allCases)
    func incompleteSnapshotsAndUploadsOlderThanTheThresholdGo(kind: StoreKind) async throws {
        try await withResource(TestStore.make(kind)) { fixture in
            let store = fixture.store
            let complete = "c/dc1/rack1/0/20261101T000000Z/"
            let incomplete = "c/dc1/rack1/0/20261102T000000Z/"
            try await store.put(complete + "dump.rdb.zst", bytes: ByteBuffer(string: "data"))
            try await store.put(complete + "manifest.json", bytes: ByteBuffer(string: "{}"))
            try await store.put(
                incomplete + "appendonlydir/appendonly.aof.1.base.rdb.zst", bytes: ByteBuffer(string: "part"))
            try await store.put("c/_ring/20261102T000000Z.json", bytes: ByteBuffer(string: "{}"))
            try await store.put("dc1/rack1/0/1795478400000", bytes: ByteBuffer(string: "REDIS0010 Dynomite-manager's"))
            // An upload that never finished.
            switch kind {
            case .local:
                let folder = try #require(fixture.folder).path + "/c/dc1/rack1/0/20261103T000000Z"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                FileManager.default.createFile(atPath: folder + "/.dynokeeper-tmp-1234", contents: Data("half".utf8))
                // Folders a killed put left, empty.
                try FileManager.default.createDirectory(
                    atPath: try #require(fixture.folder).path + "/c/dc1/rack1/9/20261104T000000Z",
                    withIntermediateDirectories: true)
            case .s3:
                let s3 = try #require(store as? S3Store)
                let data = RandomBytes(total: 12 << 20, failAfter: 11 << 20)
                _ = try? await s3.put("c/dc1/rack1/0/20261103T000000Z/dump.rdb.zst", body: data)
                // The failed put aborted its own upload; start one that nobody finishes, as a killed process would.
                _ = try await SeaweedFS.shared().awsCheck([
                    "s3api", "create-multipart-upload", "--bucket", s3.configuration.location.bucket, "--key",
                    s3.configuration.location.keyRoot + "c/dc1/rack1/0/20261103T000000Z/dump.rdb.zst",
                ])
                // Another tool's upload under the same prefix: not ours, left alone.
                _ = try await SeaweedFS.shared().awsCheck([
                    "s3api", "create-multipart-upload", "--bucket", s3.configuration.location.bucket, "--key",
                    s3.configuration.location.keyRoot + "other-tool/big.bin",
                ])
            }
            let collector = StoreGarbageCollector(store: store, logger: Engine.logger)
            // Nothing is old enough yet.
            let recent = try await collector.run(olderThan: .seconds(3600), dryRun: false)
            #expect(recent.uploads.isEmpty && recent.folders.isEmpty, "\(recent)")
            #expect(try await store.head(incomplete + "appendonlydir/appendonly.aof.1.base.rdb.zst") != nil)

            // A day later: the dry run lists, then the run removes.
            let later = Date().addingTimeInterval(86_400)
            let dry = try await collector.run(olderThan: .seconds(3600), dryRun: true, now: later)
            #expect(dry.uploads.count == 1, "\(dry.uploads)")
            #expect(dry.folders.map(\.prefix) == [incomplete])
            #expect(try await store.head(incomplete + "appendonlydir/appendonly.aof.1.base.rdb.zst") != nil)
            let emptyFolder = (fixture.folder?.path ?? "") + "/c/dc1/rack1/9"
            if kind == .local {
                // c/dc1/rack1/9 and its snapshot folder, and those the removals leave empty; the dry run names them
                // and leaves them.
                #expect(dry.emptyFolders >= 2, "\(dry)")
                #expect(FileManager.default.fileExists(atPath: emptyFolder))
            }
            let report = try await collector.run(olderThan: .seconds(3600), dryRun: false, now: later)
            #expect(report.uploads.count == 1)
            #expect(try await store.head(incomplete + "appendonlydir/appendonly.aof.1.base.rdb.zst") == nil)
            #expect(try await store.head(complete + "dump.rdb.zst") != nil)
            #expect(try await store.head("c/_ring/20261102T000000Z.json") != nil)
            #expect(try await store.head("dc1/rack1/0/1795478400000") != nil)
            let cleaner = try #require(store as? any IncompleteUploadCleaning)
            let left = try await cleaner.incompleteUploads(prefix: "")
            #expect(left.map(\.key) == (kind == .s3 ? ["other-tool/big.bin"] : []), "\(left)")
            for upload in left { try await cleaner.abort(upload) }
            if kind == .local {
                #expect(report.emptyFolders == dry.emptyFolders, "\(report) \(dry)")
                #expect(!FileManager.default.fileExists(atPath: emptyFolder))
                #expect(
                    !FileManager.default.fileExists(
                        atPath: try #require(fixture.folder).path + "/c/dc1/rack1/0/20261103T000000Z"))
            }
        }
    }

    /// A backup killed two days ago in the local store: one pass removes its temporary file (or its objects without a
    /// manifest) and the folders they leave empty, although removing them made those folders look new; the dry run
    /// counts exactly that.
    @Test func oneLocalPassRemovesWhatAKilledBackupLeftAndItsFolders() async throws {
        try await withResource(TestStore.make(.local)) { fixture in
            let root = try #require(fixture.folder).path
            let killed = root + "/c/dc1/rack1/0/20261103T000000Z"
            let incomplete = "c/dc1/rack2/0/20261103T000000Z/"
            try await fixture.store.put(incomplete + "dump.rdb.zst", bytes: ByteBuffer(string: "part"))
            try FileManager.default.createDirectory(atPath: killed, withIntermediateDirectories: true)
            #expect(
                FileManager.default.createFile(atPath: killed + "/.dynokeeper-tmp-1234", contents: Data("half".utf8)))
            // Everything as the killed backup left it, two days ago.
            let then = Date().addingTimeInterval(-2 * 86_400)
            for path in [
                killed + "/.dynokeeper-tmp-1234", root + "/" + incomplete + "dump.rdb.zst", killed,
                root + "/" + incomplete, root + "/c/dc1/rack1/0", root + "/c/dc1/rack2/0", root + "/c/dc1/rack1",
                root + "/c/dc1/rack2", root + "/c/dc1", root + "/c",
            ] {
                try FileManager.default.setAttributes([.modificationDate: then], ofItemAtPath: path)
            }
            let collector = StoreGarbageCollector(store: fixture.store, logger: Engine.logger)
            let dry = try await collector.run(olderThan: .seconds(3600), dryRun: true)
            #expect(dry.uploads.count == 1 && dry.folders.count == 1, "\(dry)")
            // Both snapshot folders, both token folders, both racks, dc1 and c.
            #expect(dry.emptyFolders == 8, "\(dry)")
            #expect(FileManager.default.fileExists(atPath: killed + "/.dynokeeper-tmp-1234"))
            let report = try await collector.run(olderThan: .seconds(3600), dryRun: false)
            #expect(report.emptyFolders == dry.emptyFolders, "\(report)")
            #expect(!FileManager.default.fileExists(atPath: root + "/c"))
            #expect(FileManager.default.fileExists(atPath: root))
        }
    }
}
