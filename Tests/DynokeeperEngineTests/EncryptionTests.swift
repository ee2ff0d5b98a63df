import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

/// Client-side encryption: the chunked AES-256-GCM format, the key files, and encrypted snapshots end to end.
@Suite struct EncryptionTests {
    /// A key file of `bytes` random bytes (mode 0600) in `folder`.
    static func keyFile(_ folder: TemporaryDirectory, _ name: String, bytes: Int = 32) throws -> String {
        let path = folder.file(name)
        let secret = Data((0..<bytes).map { _ in UInt8.random(in: 0...255) })
        FileManager.default.createFile(atPath: path, contents: secret, attributes: [.posixPermissions: 0o600])
        return path
    }

    static func key(_ folder: TemporaryDirectory, _ name: String) throws -> SnapshotKeyring.Key {
        try SnapshotKeyring.load(try keyFile(folder, name), origin: "test")
    }

    static func encrypt(
        _ data: [UInt8], key: SnapshotKeyring.Key, context: String = "ctx", chunkSize: Int = 4096
    ) async throws -> [UInt8] {
        // Uneven pieces, as a compressor hands them on.
        var pieces: [ByteBuffer] = []
        var offset = 0
        while offset < data.count {
            let length = min(Int.random(in: 1...3000), data.count - offset)
            pieces.append(ByteBuffer(bytes: data[offset..<offset + length]))
            offset += length
        }
        return try await collect(
            EncryptingSequence(ByteStream(buffers: pieces), key: key, context: context, chunkSize: chunkSize))
    }

    static func decrypt(_ data: [UInt8], key: SnapshotKeyring.Key, context: String = "ctx") async throws -> [UInt8] {
        let pieces = stride(from: 0, to: data.count, by: 777).map {
            ByteBuffer(bytes: data[$0..<min($0 + 777, data.count)])
        }
        return try await collect(DecryptingSequence(ByteStream(buffers: pieces), key: key, context: context))
    }

    static func collect(_ sequence: some AsyncSequence<ByteBuffer, any Error>) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in sequence { bytes += chunk.readableBytesView }
        return bytes
    }

    @Test func everySizeAroundTheChunkSizeRoundTrips() async throws {
        let folder = try TemporaryDirectory(prefix: "keys")
        defer { folder.remove() }
        let key = try Self.key(folder, "key")
        for size in [0, 1, 4095, 4096, 4097, 3 * 4096, 3 * 4096 + 5] {
            let data = (0..<size).map { _ in UInt8.random(in: 0...255) }
            let encrypted = try await Self.encrypt(data, key: key)
            // Header, data, one tag per chunk: full chunks, then a last one of fewer bytes (possibly none).
            #expect(encrypted.count == 64 + size + 16 * (size / 4096 + 1), "size \(size)")
            if size >= 64 {
                #expect(
                    !encrypted.indices.dropLast(63).contains { Array(encrypted[$0..<$0 + 64]) == Array(data[0..<64]) })
            }
            #expect(try await Self.decrypt(encrypted, key: key) == data, "size \(size)")
        }
    }

    @Test func anyChangeToAnObjectFailsToDecrypt() async throws {
        let folder = try TemporaryDirectory(prefix: "keys")
        defer { folder.remove() }
        let key = try Self.key(folder, "key")
        let other = try Self.key(folder, "other")
        let data = (0..<(3 * 4096 + 100)).map { _ in UInt8.random(in: 0...255) }
        let encrypted = try await Self.encrypt(data, key: key)
        let again = try await Self.encrypt(data, key: key)
        #expect(encrypted != again, "each object has a salt (and so a key) of its own")
        let frame = 4096 + 16
        func chunk(_ bytes: [UInt8], _ index: Int) -> ArraySlice<UInt8> {
            bytes[(64 + index * frame)..<min(64 + (index + 1) * frame, bytes.count)]
        }
        var flipped = encrypted
        flipped[64 + frame + 10] ^= 1
        var swapped = Array(encrypted[0..<64])
        swapped += chunk(encrypted, 1) + chunk(encrypted, 0) + chunk(encrypted, 2) + chunk(encrypted, 3)
        var dropped = Array(encrypted[0..<64])
        dropped += chunk(encrypted, 0) + chunk(encrypted, 2) + chunk(encrypted, 3)
        var fromAnother = encrypted
        fromAnother.replaceSubrange((64 + frame)..<(64 + 2 * frame), with: chunk(again, 1))
        var badMagic = encrypted
        badMagic[0] = UInt8(ascii: "X")
        let cases: [(String, [UInt8], SnapshotKeyring.Key, String)] = [
            ("a flipped bit", flipped, key, "ctx"),
            ("two chunks swapped", swapped, key, "ctx"),
            ("a chunk dropped", dropped, key, "ctx"),
            ("cut at a chunk boundary", Array(encrypted[0..<(64 + 3 * frame)]), key, "ctx"),
            ("cut within a chunk", Array(encrypted.dropLast(5)), key, "ctx"),
            ("cut within the header", Array(encrypted[0..<40]), key, "ctx"),
            ("a chunk of another object", fromAnother, key, "ctx"),
            ("another snapshot's or file's context", encrypted, key, "other ctx"),
            ("another key", encrypted, other, "ctx"),
            ("a damaged header", badMagic, key, "ctx"),
            ("data in clear", data, key, "ctx"),
        ]
        for (label, bytes, key, context) in cases {
            await #expect(throws: DecryptionError.self, "\(label)") {
                _ = try await Self.decrypt(bytes, key: key, context: context)
            }
        }
    }

    @Test func keyFilesAreCheckedAndKnownByFingerprint() throws {
        let folder = try TemporaryDirectory(prefix: "keys")
        defer { folder.remove() }
        let text = folder.file("text")
        try "0123456789abcdef0123456789abcdefXYZ\n".write(toFile: text, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: text)
        let bare = folder.file("bare")
        try "0123456789abcdef0123456789abcdefXYZ".write(toFile: bare, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: bare)
        let fromText = try SnapshotKeyring.load(text, origin: "encryption.key_file")
        #expect(fromText.fingerprint == (try SnapshotKeyring.load(bare, origin: "x")).fingerprint)
        #expect(fromText.fingerprint.count == 32)
        #expect(!fromText.fingerprint.contains("3031323334"), "the fingerprint does not show the key")
        #expect(
            try SnapshotKeyring.load(try Self.keyFile(folder, "b"), origin: "x").fingerprint != fromText.fingerprint)

        let short = try Self.keyFile(folder, "short", bytes: 31)
        #expect(throws: ConfigurationError.self) { try SnapshotKeyring.load(short, origin: "encryption.key_file") }
        // Long enough, not secret: a repeated character, a short pattern.
        for (name, text) in [
            ("spaces", String(repeating: " ", count: 40)), ("aaa", String(repeating: "ab", count: 24)),
        ] {
            try text.write(toFile: folder.file(name), atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: folder.file(name))
            let weak = #expect(throws: ConfigurationError.self) {
                try SnapshotKeyring.load(folder.file(name), origin: "k")
            }
            #expect("\(weak!)".contains("not a secret key"), "\(weak!)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: bare)
        let open = #expect(throws: ConfigurationError.self) { try SnapshotKeyring.load(bare, origin: "k") }
        #expect("\(open!)".contains("readable by every user"))
        #expect(throws: ConfigurationError.self) { try SnapshotKeyring.load(folder.file("missing"), origin: "k") }
        #expect(throws: ConfigurationError.self) {
            try DynokeeperConfiguration.parse(yaml: "encryption:\n  previous_key_files: [\(bare)]\n", path: "t.yml")
        }
    }

    static func encryptionYAML(_ key: String?, previous: [String] = []) -> String {
        guard let key else { return "" }
        return """
            encryption:
              key_file: \(key)
              previous_key_files: [\(previous.joined(separator: ", "))]
            """
    }

    @Test(.tags(.integration)) func anEncryptedSnapshotRestoresWithItsKeyAndOnlyWithIt() async throws {
        let keys = try TemporaryDirectory(prefix: "keys")
        defer { keys.remove() }
        let first = try Self.keyFile(keys, "first")
        let second = try Self.keyFile(keys, "second")
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(moreYAML: Self.encryptionYAML(first))) { node in
                var node = node
                try await node.populate("secret")
                _ = try await node.redis.cli(["SET", "clear-text-marker", String(repeating: "needle-", count: 100)])
                let manifest = try await node.backup(store: store.store)
                let firstKey = try SnapshotKeyring.load(first, origin: "x")
                #expect(manifest.format == 2)
                #expect(manifest.encryption?.keyFingerprint == firstKey.fingerprint)
                #expect(manifest.files.allSatisfy { $0.object.hasSuffix(".zst.enc") })
                // Nobody reads it from the store without the key: not zstd, and no value in clear.
                let object =
                    store.folder!.path + "/"
                    + SnapshotLayout.snapshotPrefix(try node.settings.identity, manifest.snapshotID)
                    + manifest.files[0].object
                let stored = try #require(FileManager.default.contents(atPath: object))
                #expect(stored.range(of: Data("needle-needle-".utf8)) == nil)
                let zstd = try await ProcessRunner.run("zstd", ["-d", "-c", object])
                #expect(zstd.status != 0)

                let before = try await node.content()
                try await node.scribble("later")
                let scribbled = try await node.content()
                let events = node.redis.events()
                // Without the key, or with another one: refused before the node is touched, naming the key.
                for keyFile in [nil, second] {
                    node.configuration.encryption = .init(keyFile: keyFile)
                    let error = await expectFailure(.snapshot) {
                        _ = try await node.restore(store: store.store).run(NodeRestoreTests.request(node))
                    }
                    #expect(error?.message.contains(firstKey.fingerprint) == true, "\(String(describing: error))")
                    #expect(try await node.content() == scribbled)
                    #expect(!node.hasJournal)
                    #expect(node.redis.events() == events, "Redis was neither stopped nor started")
                }
                // After a key change, the earlier key still decrypts.
                node.configuration.encryption = .init(keyFile: second, previousKeyFiles: [first])
                _ = try await node.restore(store: store.store).run(NodeRestoreTests.request(node))
                #expect(try await node.content() == before)
            }
        }
    }

    /// A node that encrypts takes a snapshot stored in clear only when it is named: one chosen as the newest (or by
    /// date) may have been planted by whoever can write to the bucket.
    @Test(.tags(.integration)) func aSnapshotInClearIsTakenOnlyByItsIdOnceANodeEncrypts() async throws {
        let keys = try TemporaryDirectory(prefix: "keys")
        defer { keys.remove() }
        let key = try Self.keyFile(keys, "key")
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make()) { node in
                var node = node
                try await node.populate("clear")
                let clear = try await node.backup(store: store.store)
                #expect(clear.encryption == nil)
                let before = try await node.content()
                try await node.scribble("later")
                node.configuration.encryption = .init(keyFile: key)
                let refused = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: store.store).run(NodeRestoreTests.request(node))
                }
                #expect(refused?.message.contains("stored in clear") == true, "\(String(describing: refused))")
                #expect(!node.hasJournal)
                var named = try NodeRestoreTests.request(node)
                named.request.snapshotID = clear.snapshotID
                _ = try await node.restore(store: store.store).run(named)
                #expect(try await node.content() == before)
            }
        }
    }

    @Test(.tags(.integration)) func aChunkSwappedBetweenTwoSnapshotsIsCaught() async throws {
        let keys = try TemporaryDirectory(prefix: "keys")
        defer { keys.remove() }
        let keyPath = try Self.keyFile(keys, "key")
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(moreYAML: Self.encryptionYAML(keyPath))) { node in
                try await RedisDataset.populateRandom(node.redis, count: 1500, size: 2000)
                let first = try await node.backup(
                    store: store.store, id: SnapshotID(date: Date(timeIntervalSince1970: 1_790_000_000)))
                let second = try await node.backup(
                    store: store.store, id: SnapshotID(date: Date(timeIntervalSince1970: 1_790_000_060)))
                let identity = try node.settings.identity
                func path(_ manifest: SnapshotManifest) -> String {
                    store.folder!.path + "/" + SnapshotLayout.snapshotPrefix(identity, manifest.snapshotID)
                        + manifest.files[0].object
                }
                var target = try #require(FileManager.default.contents(atPath: path(second)))
                let source = try #require(FileManager.default.contents(atPath: path(first)))
                let frame = (1 << 20) + 16
                try #require(target.count > 64 + 2 * frame && source.count > 64 + 2 * frame)
                // Chunk 1 of the first snapshot put in place of chunk 1 of the second: same size, same key.
                target.replaceSubrange((64 + frame)..<(64 + 2 * frame), with: source[(64 + frame)..<(64 + 2 * frame)])
                try target.write(to: URL(fileURLWithPath: path(second)))

                var verifier = SnapshotVerifier(store: store.store, logger: Engine.logger)
                verifier.keys = SnapshotKeyring(node.configuration.encryption)
                let entries = try await SnapshotCatalog(store: store.store, logger: Engine.logger).snapshots(
                    of: identity)
                let reports = await entries.asyncMap { await verifier.verify($0, load: false) }
                let byID = Dictionary(uniqueKeysWithValues: reports.map { ($0.snapshot, $0) })
                #expect(byID[first.snapshotID.text]?.ok == true)
                let damaged = try #require(byID[second.snapshotID.text])
                #expect(!damaged.ok)
                #expect(damaged.problems.first?.contains("does not decrypt at chunk 1") == true, "\(damaged.problems)")

                // Without the key, verify names the key it needs.
                let clear = SnapshotVerifier(store: store.store, logger: Engine.logger)
                let report = await clear.verify(try #require(entries.first), load: false)
                let fingerprint = try SnapshotKeyring.load(keyPath, origin: "x").fingerprint
                #expect(report.problems.first?.contains(fingerprint) == true, "\(report.problems)")
            }
        }
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
