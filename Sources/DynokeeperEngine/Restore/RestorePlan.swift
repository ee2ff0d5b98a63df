import Foundation

/// Where each fetched file goes in the target Redis's data folder, and what is set aside first.
package struct RestorePlan: Sendable, Codable, Equatable {
    /// A file to put in place: fetched from the store, or written by dynokeeper (an empty AOF increment and a
    /// manifest that turn an RDB into an AOF base for a Redis that loads its AOF).
    package struct Placement: Sendable, Codable, Equatable {
        /// The path relative to the data folder.
        package var target: String
        /// The snapshot file it comes from (`nil` for a file dynokeeper writes).
        package var source: RestoreSource.File?
        /// The content of a file dynokeeper writes.
        package var content: String?
        /// Another placement whose file this one reuses (a hard link, no second download).
        package var sameAs: String?
    }

    package var layout: RedisLayout
    package var placements: [Placement]

    /// Plans a restore of `source` into a Redis laid out as `layout`.
    /// - Throws: ``DynokeeperError`` when this Redis cannot load that snapshot (an AOF snapshot into a Redis with
    ///   `appendonly no`, a multi-part AOF into Redis before 7).
    package static func make(_ source: RestoreSource, into layout: RedisLayout) throws -> RestorePlan {
        var placements: [Placement] = []
        switch source.type {
        case .rdb:
            guard let rdb = source.files.first, source.files.count == 1 else {
                throw DynokeeperError.snapshot(
                    "an RDB snapshot should hold one file, this one holds \(source.files.count)")
            }
            placements.append(Placement(target: layout.dbFilename, source: rdb))
            if layout.appendOnly {
                // Redis with appendonly yes ignores the RDB at start-up and would come up empty: hand it the
                // RDB as its AOF instead.
                if let folder = layout.appendDirectory {
                    let base = "\(layout.appendFilename).1.base.rdb"
                    let incr = "\(layout.appendFilename).1.incr.aof"
                    placements.append(Placement(target: "\(folder)/\(base)", sameAs: layout.dbFilename))
                    placements.append(Placement(target: "\(folder)/\(incr)", content: ""))
                    placements.append(
                        Placement(
                            target: "\(folder)/\(layout.appendFilename).manifest",
                            content: "file \(base) seq 1 type b\nfile \(incr) seq 1 type i\n"))
                } else {
                    // Before Redis 7, an AOF may start with an RDB preamble.
                    placements.append(Placement(target: layout.appendFilename, sameAs: layout.dbFilename))
                }
            }
        case .aof:
            guard layout.appendOnly else {
                throw DynokeeperError.snapshot(
                    "snapshot \(source.id) is an AOF snapshot, but this Redis's configuration has appendonly no, so it would not load it: set appendonly yes in redis.conf, or restore an RDB snapshot"
                )
            }
            if let sourceFolder = source.manifest?.redis.aofDirectory,
                let sourceManifest = source.manifest?.redis.aofManifest
            {
                guard let folder = layout.appendDirectory else {
                    throw DynokeeperError.snapshot(
                        "snapshot \(source.id) is a multi-part AOF (Redis 7+), and this Redis is older: restore an RDB snapshot"
                    )
                }
                for file in source.files {
                    let name = String(file.name.dropFirst(sourceFolder.count + 1))
                    guard file.name.hasPrefix(sourceFolder + "/"), !name.contains("/") else {
                        throw DynokeeperError.snapshot("snapshot \(source.id) has an unexpected AOF file \(file.name)")
                    }
                    let target = name == sourceManifest ? "\(layout.appendFilename).manifest" : name
                    placements.append(Placement(target: "\(folder)/\(target)", source: file))
                }
            } else {
                guard let file = source.files.first, source.files.count == 1 else {
                    throw DynokeeperError.snapshot(
                        "a single-file AOF snapshot should hold one file, this one holds \(source.files.count)")
                }
                // Redis 7 turns a lone appendonly file into its multi-part layout when it loads it.
                placements.append(Placement(target: layout.appendFilename, source: file))
            }
        }
        for placement in placements where placement.target.split(separator: "/").contains("..") {
            throw DynokeeperError.snapshot(
                "refusing a snapshot file that would land outside the data folder: \(placement.target)")
        }
        return RestorePlan(layout: layout, placements: placements)
    }

    /// The bytes the fetched files need on disk.
    package var downloadSize: Int64 { placements.compactMap(\.source?.size).reduce(0, +) }
}
