import Foundation

extension DynokeeperConfiguration.Restore {
    /// Reads the `restore.*` keys and Dynomite-manager's restore switch and date.
    init(reading reader: inout TypedReader) throws {
        // Dynomite-manager's restore.enabled meant "restore at start-up": it allows restores and asks for one then.
        let dynomiteManagerRestores = try reader.bool(DynomiteManagerKeys.restoreEnabled)
        let enabled = try reader.aliasedBool("restore.enabled", DynomiteManagerKeys.restoreEnabled)
        let onStart = try reader.bool("restore.on_start")
        if let onStart, let dynomiteManagerRestores, onStart.value != dynomiteManagerRestores.value {
            throw ConfigurationError(
                "restore.on_start (\(onStart.origin)) and \(reader.named(DynomiteManagerKeys.restoreEnabled)), which means restore at start-up, disagree: keep one"
            )
        }
        let restoreOnStart = onStart?.value ?? dynomiteManagerRestores?.value ?? false
        reader.record(
            "restore.on_start", String(restoreOnStart),
            onStart?.origin
                ?? (dynomiteManagerRestores != nil ? reader.alias([DynomiteManagerKeys.restoreEnabled]) : .defaultValue)
        )
        if restoreOnStart && !enabled {
            throw ConfigurationError("restore.on_start needs restore.enabled: true")
        }
        let parsedZone = try reader.parsed("restore.timezone") { text -> TimeZone in
            guard let zone = TimeZone(identifier: text) else {
                throw ConfigurationError("not a time zone name such as UTC or America/Los_Angeles")
            }
            return zone
        }
        let zone = parsedZone?.value ?? TimeZone(identifier: "UTC")!
        reader.record(
            "restore.timezone", zone.name, parsedZone?.origin ?? .defaultValue)
        let native = try reader.parsed("restore.date") { try RestorePoint.parse($0, timeZone: zone) }
        let alias = try reader.parsed(DynomiteManagerKeys.restoreDate) { text -> Date in
            guard text.count == 8 else { throw ConfigurationError("Dynomite-manager dates are yyyyMMdd") }
            return try RestorePoint.parse(text, timeZone: zone)
        }
        if let native, let alias, native.value != alias.value {
            throw ConfigurationError(
                "restore.date (\(native.origin)) and \(reader.named(DynomiteManagerKeys.restoreDate)) disagree: keep one"
            )
        }
        let date = native ?? alias
        reader.record(
            "restore.date", date.map { ISO8601DateFormatter().string(from: $0.value) },
            date.map { native != nil ? $0.origin : reader.alias([DynomiteManagerKeys.restoreDate]) } ?? .defaultValue)
        self.init(
            enabled: enabled, date: date?.value,
            sourceCluster: try reader.string("restore.source_cluster", check: TypedReader.checkName),
            sourceDatacenter: try reader.string("restore.source_datacenter", check: TypedReader.checkName),
            sourceRack: try reader.string("restore.source_rack", check: TypedReader.checkName),
            method: try reader.choice("restore.method", default: Method.files, what: "method"))
        self.onStart = restoreOnStart
        let toTime = try reader.parsed("restore.to_time") {
            try RestorePoint.parse($0, timeZone: zone, fractions: true)
        }
        reader.record(
            "restore.to_time",
            toTime.map {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                return formatter.string(from: $0.value)
            },
            toTime?.origin ?? .defaultValue)
        self.toTime = toTime?.value
        if toTime != nil && date != nil {
            throw ConfigurationError(
                "restore.to_time and restore.date both say where a restore goes back to: keep one")
        }
        timeZone = zone
        format = try reader.choice("restore.format", default: Format.auto, what: "format")
    }
}

extension TimeZone {
    /// Its name for messages: UTC and offsets from it are called so (Foundation names them GMT, GMT+0200 on Linux).
    package var name: String {
        guard identifier.hasPrefix("GMT") else { return identifier }
        let offset = secondsFromGMT()
        guard offset != 0 else { return "UTC" }
        let (hours, minutes) = (abs(offset) / 3600, abs(offset) % 3600 / 60)
        return "UTC\(offset < 0 ? "-" : "+")\(hours < 10 ? "0" : "")\(hours):\(minutes < 10 ? "0" : "")\(minutes)"
    }
}
