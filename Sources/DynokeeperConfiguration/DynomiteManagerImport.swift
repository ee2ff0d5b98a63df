import Foundation

/// `dynokeeper config import-dm FILE`: the dynokeeper.yml that does what a Dynomite-manager `.properties` file
/// did, with a comment on each setting, saying where it came from and what changes in meaning.
package enum DynomiteManagerImport {
    /// - Parameter file: The `.properties` file, read as `config.dynomite_manager_properties` reads it (unknown names
    ///   under Dynomite-manager's prefixes and spellings that disagree are errors).
    package static func yaml(file: String) throws -> String {
        let absolute =
            file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        let configuration = try DynokeeperConfiguration.parse(
            yaml: "config:\n  dynomite_manager_properties: \(quoted(absolute))\n", path: "import-dm", environment: [:])
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw ConfigurationError("cannot read \(file)")
        }
        var spellings: [String: String] = [:]
        for entry in JavaProperties.parse(String(decoding: data, as: UTF8.self)).entries {
            if DynomiteManagerKeys.isDynomiteManagerName(entry.key) {
                spellings[DynomiteManagerKeys.canonical(entry.key)] = entry.key
            }
        }
        func from(_ keys: String...) -> String {
            keys.compactMap { spellings[$0] }.joined(separator: ", ")
        }

        var lines = [
            "# dynokeeper.yml made by `dynokeeper config import-dm \(file)`. Read every comment before using it.",
            "cluster: \(configuration.cluster)  # Dynomite-manager did not name the cluster here: set this cluster's name",
        ]
        let storage = from(DynomiteManagerKeys.bucket, DynomiteManagerKeys.baseDir)
        if let baseDir = configuration.storage.dynomiteManagerBaseDir,
            case .s3(let bucket, let prefix) =
                configuration.storage.url, baseDir != prefix
        {
            // A base_dir with leading, trailing or doubled slashes: Dynomite-manager's keys keep them, and only its
            // own keys say so (storage.url tidies the prefix).
            lines += [
                "\(spellings[DynomiteManagerKeys.bucket] ?? DynomiteManagerKeys.bucket): \(quoted(bucket))  # \(spellings[DynomiteManagerKeys.bucket].map { "from \($0)" } ?? "Dynomite-manager's default bucket")",
                "\(spellings[DynomiteManagerKeys.baseDir] ?? DynomiteManagerKeys.baseDir): \(quoted(baseDir))  # kept as Dynomite-manager's own key: its objects are <base_dir>/<dc>/… joined literally (slashes and all), which storage.url cannot say. dynokeeper writes its own layout under the same root, and finds Dynomite-manager's daily objects there too (restore.format: auto)",
            ]
        } else if case .s3 = configuration.storage.url {
            let origin =
                storage.isEmpty
                ? "Dynomite-manager's default bucket and base_dir (the file names neither)"
                : "from \(storage) (a missing one takes Dynomite-manager's default)"
            lines += [
                "storage:",
                "  url: \(quoted(configuration.storage.url.description))  # \(origin). dynokeeper writes its own layout under <base_dir>/<cluster>/…, and finds Dynomite-manager's daily objects there too (restore.format: auto)",
            ]
        }
        lines.append("backup:")
        if let spelling = spellings[DynomiteManagerKeys.snapshotEnabled] {
            lines.append("  enabled: \(configuration.backup.enabled)  # from \(spelling)")
        }
        if let spelling = spellings["backup.type"] {
            lines.append("  type: \(configuration.backup.type.rawValue)  # from \(spelling)")
        } else {
            lines.append(
                "  type: aof  # Dynomite-manager's default persistence (florida.dyno.persistence.type unset); dynokeeper's own default is rdb"
            )
        }
        let schedule = from(DynomiteManagerKeys.hour, DynomiteManagerKeys.schedule)
        let zone =
            "Dynomite-manager used the JVM's local time zone, dynokeeper's schedule is UTC: shift the hour if the nodes did not run in UTC"
        if !schedule.isEmpty {
            lines.append(
                "  schedule: \(quoted(configuration.backup.schedule.description))  # from \(schedule): at minute 1 of that hour, as Dynomite-manager ran; \(zone)"
            )
        } else if spellings[DynomiteManagerKeys.snapshotEnabled] != nil {
            lines.append("  schedule: \"daily 12:01\"  # Dynomite-manager's default (hour 12, daily); \(zone)")
        }
        lines.append("restore:")
        if let spelling = spellings[DynomiteManagerKeys.restoreEnabled] {
            lines.append("  enabled: \(configuration.restore.enabled)  # from \(spelling): restores are allowed")
            lines.append(
                "  on_start: \(configuration.restore.onStart)  # from \(spelling), which meant restore at start-up: Dynomite-manager restored at every start, dynokeeper once (recorded in the state folder), and never over a node that already holds data"
            )
        }
        if let spelling = spellings[DynomiteManagerKeys.restoreDate], let date = configuration.restore.date {
            let day = ISO8601DateFormatter.string(from: date, timeZone: .gmt, formatOptions: [.withFullDate])
            lines.append(
                "  date: \(day)  # from \(spelling): the newest snapshot taken that day or before (in restore.timezone), of either layout"
            )
        }
        lines.append("  format: auto  # the newest of dynokeeper's snapshots and Dynomite-manager's daily objects")
        lines.append(
            "  timezone: UTC  # Dynomite-manager named each day's object by the midnight of the JVM's local time zone: set the zone its nodes ran in (e.g. America/Los_Angeles), or its days are misread"
        )
        if let spelling = spellings["redis.data_dir"], let directory = configuration.redis.dataDir {
            lines += ["redis:", "  data_dir: \(quoted(directory))  # from \(spelling)"]
        }
        let start = spellings["dynomite.start"], stop = spellings["dynomite.stop"]
        if start != nil || stop != nil {
            lines.append("dynomite:")
            if let start, let command = configuration.dynomite.start {
                lines.append("  start: \(quoted(command))  # from \(start): it must start Dynomite and return")
            }
            if let stop, let command = configuration.dynomite.stop {
                lines.append("  stop: \(quoted(command))  # from \(stop)")
            }
        }
        if !configuration.ignoredProperties.isEmpty {
            lines.append(
                "# Not used by dynokeeper (Dynomite-manager's other settings): "
                    + configuration.ignoredProperties.joined(separator: ", "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A YAML double-quoted scalar.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
