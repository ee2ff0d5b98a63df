package import DynokeeperConfiguration
package import Foundation
package import Logging
package import ObjectStorage

/// Chooses what a restore brings back: the newest complete snapshot of the source node, at or before a
/// date, or a given one; Dynomite-manager's objects when no dynokeeper snapshot matches.
package struct SnapshotSelector: Sendable {
    /// Which snapshot to take.
    package struct Request: Sendable {
        /// The node whose data to restore (this node, or its counterpart in another cluster).
        package var source: NodeIdentity
        /// The newest snapshot taken at or before this moment; the newest of all when `nil`.
        package var date: Date?
        /// Exactly this snapshot.
        package var snapshotID: SnapshotID?
        /// `nil`: the newest of dynokeeper's and Dynomite-manager's layouts (`restore.format: auto`); otherwise only
        /// that one.
        package var format: RestoreSource.Format?
        /// The persistence type of Dynomite-manager objects (they do not say), from `backup.type`.
        package var dynomiteManagerType: DynokeeperConfiguration.Backup.PersistenceType
        /// Whether `auto` (no `format`) looks at Dynomite-manager's objects: not on a node that encrypts, whose
        /// data is never in clear (one asks for them with the dynomite-manager format).
        package var autoIncludesDynomiteManager = true
        /// Where Dynomite-manager's JVM ran (`restore.timezone`): its objects are named by that zone's midnights.
        package var dynomiteManagerTimeZone = TimeZone(identifier: "UTC")!

        package init(
            source: NodeIdentity, date: Date? = nil, snapshotID: SnapshotID? = nil, format: RestoreSource.Format? = nil,
            dynomiteManagerType: DynokeeperConfiguration.Backup.PersistenceType = .rdb
        ) {
            self.source = source
            self.date = date
            self.snapshotID = snapshotID
            self.format = format
            self.dynomiteManagerType = dynomiteManagerType
        }
    }

    package let store: any ObjectStore
    package let logger: Logger

    package init(store: any ObjectStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    package func select(_ request: Request) async throws -> RestoreSource {
        var found: [String] = []
        var candidate: RestoreSource?
        if request.format != .dynomiteManager {
            let scan = try await SnapshotCatalog(store: store, logger: logger).scan(of: request.source)
            // A snapshot asked for by id needs only its own manifest; the newest (at or before a date) needs every
            // one, or a damaged newer one would be passed over without a word.
            if let wanted = request.snapshotID, let damaged = scan.damaged.first(where: { $0.id == wanted }) {
                throw damaged.error
            }
            let entries = request.snapshotID == nil ? try scan.complete() : scan.entries
            let future = entries.filter { $0.id.isFuture() }
            if request.snapshotID == nil, request.date == nil, !future.isEmpty {
                logger.warning(
                    "ignoring \(future.count) snapshot(s) dated in the future (\(future.map(\.id.text).joined(separator: ", "))): check the clocks of the nodes that took them; restore one with --snapshot"
                )
            }
            if let chosen = Self.choose(entries, id: \.id, date: request.date, snapshotID: request.snapshotID) {
                candidate = RestoreSource(entry: chosen)
            }
            found += entries.map { "\($0.id)" }
        }
        if request.format == .dynomiteManager || (request.format == nil && request.autoIncludesDynomiteManager) {
            // In auto, with a dynokeeper snapshot at hand, what goes wrong with Dynomite-manager's layout (a listing
            // that is not allowed, a stray object) is a warning, not a failed restore.
            let fallback = request.format == nil ? candidate : nil
            let objects: [(id: SnapshotID, info: ObjectInfo)]
            do {
                objects = try await dynomiteManagerObjects(request.source)
            } catch  where fallback != nil {
                logger.warning(
                    "Dynomite-manager's objects could not be listed (\(error)); restoring dynokeeper's snapshot")
                objects = []
            }
            // Taken when it is newer than dynokeeper's choice (a node still backed up by Dynomite-manager while the
            // fleet moves over), or the only one.
            if let chosen = Self.choose(objects, id: \.id, date: request.date, snapshotID: request.snapshotID),
                candidate.map({ chosen.id > $0.id }) ?? true
            {
                do {
                    try Self.checkMidnight(chosen.info.key, day: chosen.id.date, in: request.dynomiteManagerTimeZone)
                    try await checkLooksLikeRedis(chosen.info.key, type: request.dynomiteManagerType)
                } catch let error where fallback != nil {
                    logger.warning("\(error); restoring dynokeeper's snapshot \(fallback!.id) instead")
                    return fallback!
                }
                return RestoreSource(
                    dynomiteManagerKey: chosen.info.key, node: request.source, day: chosen.id.date,
                    size: chosen.info.size,
                    type: request.dynomiteManagerType)
            }
            found += objects.map { "\($0.id) (Dynomite-manager)" }
        }
        if let candidate { return candidate }
        let wanted =
            request.snapshotID.map { "snapshot \($0)" }
            ?? request.date.map { "snapshot taken at or before \($0.formatted(.iso8601))" } ?? "complete snapshot"
        let node = "\(request.source.cluster) \(request.source)"
        throw DynokeeperError.snapshot(
            found.isEmpty
                ? "no \(wanted) of node \(node) in \(store.location): there are no snapshots of this node"
                : "no \(wanted) of node \(node) in \(store.location); there are: \(found.sorted().reversed().joined(separator: ", "))"
        )
    }

    /// How far ahead of this node's clock a snapshot id may be and still count as the newest.
    package static let clockTolerance: TimeInterval = 300

    static func choose<T>(
        _ candidates: [T], id: KeyPath<T, SnapshotID>, date: Date?, snapshotID: SnapshotID?, now: Date = Date()
    ) -> T? {
        let sorted = candidates.sorted { $0[keyPath: id] > $1[keyPath: id] }
        if let snapshotID { return sorted.first { $0[keyPath: id] == snapshotID } }
        // A snapshot dated in the future (a node with a fast clock, or an id given by hand) is only ever taken by its
        // id, whatever the date: it would win every restore from now on.
        let bound = min(date ?? .distantFuture, now.addingTimeInterval(clockTolerance))
        return sorted.first { $0[keyPath: id].date <= bound }
    }

    /// Dynomite-manager's objects of a node (`<dc>/<rack>/<token>/<epoch ms>`), by the day each is of.
    package func dynomiteManagerObjects(
        _ node: NodeIdentity
    ) async throws -> [(id: SnapshotID, info: ObjectInfo)] {
        let prefix = SnapshotLayout.dynomiteManagerPrefix(node)
        return try await store.listAll(prefix: prefix).compactMap { info in
            let last = info.key.dropFirst(prefix.count)
            // As Java's Long.toString wrote it: digits only, no leading zero (another object is not its twin).
            guard !last.contains("/"), let millis = Int64(last), millis > 0, String(millis) == last else { return nil }
            return (SnapshotID(date: Date(timeIntervalSince1970: TimeInterval(millis) / 1000)), info)
        }
    }

    /// Refuses an object whose name is not a midnight in `restore.timezone`: Dynomite-manager named each day's
    /// object by its JVM's local midnight, so the zone is not the one it ran in, and a date's day would be misread
    /// (the 20th's object taken for the 19th).
    static func checkMidnight(_ key: String, day: Date, in zone: TimeZone) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        guard calendar.startOfDay(for: day) != day else { return }
        // The UTC offset whose midnight the name is.
        let sinceUTCMidnight = Int(day.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) + 86_400) % 86_400
        let offset = sinceUTCMidnight > 43_200 ? 86_400 - sinceUTCMidnight : -sinceUTCMidnight
        let hours = String(format: "%+03d:%02d", offset / 3600, abs(offset % 3600) / 60)
        throw DynokeeperError.snapshot(
            "Dynomite-manager's object \(key) is not named by a midnight in restore.timezone \(zone.name) (it is the midnight of UTC\(hours)): set restore.timezone to the zone Dynomite-manager's JVM ran in, or its days are misread; nothing was touched"
        )
    }

    /// Refuses an object that does not start like the data it should hold, before anything is touched.
    func checkLooksLikeRedis(_ key: String, type: DynokeeperConfiguration.Backup.PersistenceType) async throws {
        let head = try await store.get(key, range: 0..<9).body.collect(upTo: 64)
        let text = String(decoding: head.readableBytesView, as: UTF8.self)
        // An AOF starts with a command (`*`) or, with an RDB preamble, like an RDB.
        let valid = type == .rdb ? text.hasPrefix("REDIS") : (text.hasPrefix("*") || text.hasPrefix("REDIS"))
        guard valid else {
            throw DynokeeperError.snapshot(
                "\(key) does not look like \(type == .rdb ? "an RDB file (it should start with REDIS)" : "an AOF file"); refusing to restore it"
            )
        }
    }
}

extension SnapshotID {
    /// Whether it is ahead of `now` by more than the clock tolerance: never the default choice of a restore.
    package func isFuture(now: Date = Date()) -> Bool { date > now.addingTimeInterval(SnapshotSelector.clockTolerance) }
}
