import DynokeeperConfiguration
import Foundation
import Logging
import ObjectStorage

/// What a restore checks and plans before it touches the node: the checks that refuse it early, and the steps a
/// dry run lists.
extension NodeRestore {
    /// Everything that can be refused before anything is fetched: a Redis that a supervisor would restart, a
    /// snapshot the node's Redis cannot load, objects whose size is not the manifest's, too little free space.
    func preflight(
        source: RestoreSource, plan: RestorePlan, target: RestoreTarget, options: Options
    ) async throws -> [String] {
        var notes: [String] = []
        try downloader.keys(for: source.files, of: "snapshot \(source.id)")
        // With a key configured, this node's snapshots are encrypted: one in clear chosen by date or as the newest
        // may have been planted by whoever can write to the bucket. Taken only when named.
        if downloader.keys.encrypts, source.files.contains(where: { $0.encryption == nil }),
            options.request.snapshotID == nil
        {
            throw DynokeeperError.snapshot(
                "snapshot \(source.id) is stored in clear, and this node encrypts its snapshots (encryption.key_file): it was taken before encryption was turned on, by a node without the key, or planted in the store. Restore it by its id (--snapshot \(source.id), or snapshot in the request) if you trust it; nothing was touched"
            )
        }
        if let supervised = target.supervised, supervised != "no", configuration.redis.stop == nil {
            throw ConfigurationError(
                "Redis runs supervised (supervised \(supervised)): after SHUTDOWN its supervisor would start it again on the old files while dynokeeper replaces them. Set redis.stop and redis.start to the supervisor's commands (such as systemctl stop redis-server / systemctl start redis-server)"
            )
        }
        if let version = source.manifest?.rdbVersion {
            notes += try checkRDBVersion(version, of: "snapshot \(source.id)", target: target, force: options.force)
        } else if target.newestRDBVersion == nil && target.up {
            notes.append(
                "this Redis (\(target.version ?? "unknown version")) is not one whose RDB formats dynokeeper knows: the format check is skipped"
            )
        }
        for file in source.files {
            guard let info = try await store.head(file.key) else {
                throw DynokeeperError.snapshot(
                    "\(file.key) is listed in the snapshot but missing from \(store.location)")
            }
            guard info.size == file.storedSize else {
                throw DynokeeperError.snapshot(
                    "\(file.key) is \(info.size) bytes in \(store.location), the snapshot says \(file.storedSize): it is damaged or was replaced; nothing was touched"
                )
            }
        }
        if let problem = FolderAccess.restoreProblems(
            directory: plan.layout.directory, appendDirectory: plan.layout.appendDirectory
        ).first {
            throw DynokeeperError.snapshot(
                "\(problem). Run dynokeeper as root or as Redis's own user, or give Redis's group write access (see the README's Running in production); nothing was touched"
            )
        }
        let safetySave = options.skipSafetySave || !target.up ? 0 : target.currentRDBSize
        // An online restore writes the RDB as Redis's file (or Redis rewrites its AOF of the same data): as much.
        let download = plan.downloadSize
        let margin: Int64 = (64 << 20) + download / 20
        let needed = download + safetySave + margin
        let available = try LocalFileSystem.availableSpace(plan.layout.directory)
        guard available >= needed else {
            throw DynokeeperError.snapshot(
                "not enough free space in \(plan.layout.directory): the restore needs \(needed) bytes (snapshot \(download), safety save \(safetySave), margin \(margin)), \(available) are free; nothing was touched"
            )
        }
        return notes
    }

    func checkRDBVersion(_ version: Int, of what: String, target: RestoreTarget, force: Bool) throws -> [String] {
        guard let newest = target.newestRDBVersion, version > newest else { return [] }
        let message =
            "\(what) is RDB format \(version), and this Redis \(target.version ?? "") loads formats up to \(newest): it would refuse the data at start-up"
        guard force else {
            throw DynokeeperError.snapshot(
                "\(message). Upgrade Redis, restore an older snapshot, or pass --force (force: true) to try anyway; nothing was touched"
            )
        }
        logger.warning("\(message); restoring anyway (--force)")
        return ["\(message) (restoring anyway: --force)"]
    }

    /// Reads the RDB format of the fetched RDB (or AOF base): manifests before it was recorded, and
    /// Dynomite-manager's objects, say nothing about it.
    func checkFetchedFormat(_ plan: RestorePlan, incoming: String, target: RestoreTarget, force: Bool) throws {
        for placement in plan.placements {
            // An RDB, an AOF's RDB base, or an AOF with an RDB preamble: all start with REDIS and the version.
            guard let file = placement.source, let version = RDBVersion.read(file: incoming + "/" + placement.target)
            else { continue }
            _ = try checkRDBVersion(version, of: file.name, target: target, force: force)
        }
    }

    /// The steps a dry run lists.
    func plannedSteps(
        _ plan: RestorePlan, folders: NodeFolders, dynomite: DynomiteService?, options: Options
    ) -> [String] {
        if configuration.restore.method == .online {
            return plannedOnlineSteps(plan, dynomite: dynomite, options: options)
        }
        var planned = [
            "fetch and verify \(plan.placements.compactMap(\.source).count) file(s) into \(folders.work)/incoming"
        ]
        if let dynomite {
            planned.append(
                "stop Dynomite (\(dynomite.stopCommand)) and wait for \(dynomite.host):\(dynomite.port) to close")
        }
        planned.append(
            options.skipSafetySave
                ? "no safety save (--no-safety-save)" : "BGSAVE, so that the set-aside files hold Redis's latest data")
        planned.append(
            "stop Redis (\(configuration.redis.stop == nil ? "SHUTDOWN NOSAVE" : "redis.stop")) and check that it stays down"
        )
        planned.append("set aside \(plan.layout.dataPaths.joined(separator: ", ")) into \(folders.work)/previous")
        if plan.layout.appendOnly && plan.placements.contains(where: { $0.sameAs != nil }) {
            planned.append(
                "hand the RDB over as this Redis's AOF (appendonly yes: it loads the AOF, not the RDB): the RDB becomes the base of a new multi-part AOF"
            )
        }
        for placement in plan.placements {
            planned.append("put \(placement.target) in place, with the owner, group and mode of the file it replaces")
        }
        planned.append(
            "start Redis (redis.start) and wait until a new Redis process has loaded its data"
        )
        planned.append("check the key counts against the manifest")
        planned += pointInTimeSteps(plan, options: options)
        if let dynomite {
            planned.append("start Dynomite (\(dynomite.startCommand)) and wait for \(dynomite.host):\(dynomite.port)")
        }
        planned.append("remove the set-aside files")
        return planned
    }

    /// The steps a point-in-time restore adds once the base is loaded, for a dry run.
    func pointInTimeSteps(_ plan: RestorePlan, options: Options) -> [String] {
        guard let target = options.toTime else { return [] }
        return [
            configuration.restore.method == .online
                ? "with the load, the archived commands after the base up to \(PointInTimeArchive.format(target)), applied by Redis as a replica (its key counts checked at the last marker before the moment, its errors counted)"
                : "load the base again over the replication link, Redis a replica of dynokeeper, with the archived commands after it up to \(PointInTimeArchive.format(target)) (its key counts checked at the last marker before the moment, its errors counted); then REPLICAOF NO ONE"
        ] + (plan.layout.appendOnly ? [] : ["BGSAVE, so that \(plan.layout.dbFilename) holds the replayed data"])
    }

    /// The steps of an online restore, for a dry run.
    func plannedOnlineSteps(_ plan: RestorePlan, dynomite: DynomiteService?, options: Options) -> [String] {
        var planned: [String] = []
        if let dynomite {
            planned.append(
                "stop Dynomite (\(dynomite.stopCommand)) and wait for \(dynomite.host):\(dynomite.port) to close")
        }
        planned.append(options.skipSafetySave ? "no safety save (--no-safety-save)" : "BGSAVE")
        planned.append(
            "keep \(plan.layout.dataPaths.joined(separator: ", ")) as hard links in the work folder (for a rollback)")
        planned.append(
            "REPLICAOF dynokeeper with repl-diskless-load swapdb: Redis loads the RDB as it downloads (decompressed and checked on the way; the last bytes go once its SHA-256 matches), keeping its old data until the new data has loaded; then REPLICAOF NO ONE"
        )
        if options.toTime == nil { planned.append("check the key counts against the manifest") }
        let pointInTime = pointInTimeSteps(plan, options: options)
        planned += pointInTime
        if pointInTime.isEmpty || plan.layout.appendOnly {
            planned.append(
                plan.layout.appendOnly
                    ? "wait for the AOF rewrite Redis starts after a load, so that its files hold the new data"
                    : "put the RDB written during the load in place of \(plan.layout.dbFilename), with the owner, group and mode of the file it replaces"
            )
        }
        if let dynomite {
            planned.append("start Dynomite (\(dynomite.startCommand)) and wait for \(dynomite.host):\(dynomite.port)")
        }
        planned.append("remove the hard links")
        return planned
    }
}
