import DynokeeperConfiguration
import DynokeeperEngine
import Foundation
import Hummingbird

/// A JSON request body checked field by field: unknown fields, wrong types and bad values are 400s that name
/// the field.
struct RequestBody {
    /// A JSON value, keeping booleans apart from numbers.
    enum Value: Decodable {
        case bool(Bool), number(Double), string(String), null, array([Value]), object([String: Value])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([Value].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: Value].self))
            }
        }
    }

    let fields: [String: Value]
    /// Where a `date` without an offset is read (`restore.timezone`).
    var timeZone = TimeZone(identifier: "UTC")!

    /// The largest body accepted (the API's bodies are a few fields).
    static let limit = 64 << 10

    /// Reads the body (an empty body is `{}`) and refuses fields not in `allowed`.
    static func read(_ request: Request, allowed: Set<String>) async throws -> RequestBody {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard buffer.readableBytes > 0 else { return RequestBody(fields: [:]) }
        guard let value = try? JSONDecoder().decode(Value.self, from: Data(buffer.readableBytesView)) else {
            throw APIError.badRequest("the body is not JSON")
        }
        guard case .object(let fields) = value else { throw APIError.badRequest("the body must be a JSON object") }
        for name in fields.keys.sorted() where !allowed.contains(name) {
            throw APIError.badRequest(
                allowed.isEmpty
                    ? "unknown field \(name): this request takes no fields"
                    : "unknown field \(name); expected \(allowed.sorted().joined(separator: ", "))")
        }
        return RequestBody(fields: fields)
    }

    func string(_ name: String) throws -> String? {
        switch fields[name] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw APIError.badRequest("field \(name) must be a string")
        }
    }

    /// A whole number of at least 0.
    func count(_ name: String) throws -> Int? {
        switch fields[name] {
        case nil, .null?: return nil
        case .number(let value)? where value >= 0 && value <= 1_000_000 && value == value.rounded(): return Int(value)
        default: throw APIError.badRequest("field \(name) must be a whole number from 0")
        }
    }

    func bool(_ name: String) throws -> Bool? {
        switch fields[name] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw APIError.badRequest("field \(name) must be true or false")
        }
    }

    func type() throws -> DynokeeperConfiguration.Backup.PersistenceType? {
        try string("type").map { text in
            guard let type = DynokeeperConfiguration.Backup.PersistenceType(rawValue: text) else {
                throw APIError.badRequest("field type must be rdb or aof, not \(text)")
            }
            return type
        }
    }

    func date(_ field: String = "date") throws -> Date? {
        try string(field).map { text in
            do { return try RestorePoint.parse(text, timeZone: timeZone, fractions: field == "to_time") } catch {
                throw APIError.badRequest("field \(field): \(error)")
            }
        }
    }

    func snapshot(_ field: String = "snapshot") throws -> SnapshotID? {
        // An invalid_request error: a 400, as every error of this body.
        try string(field).map { try SnapshotID.parse($0, as: "field \(field)") }
    }

    /// An object of string values, such as a rack mapping.
    func stringMap(_ field: String) throws -> [String: String]? {
        switch fields[field] {
        case nil, .null?: return nil
        case .object(let object)?:
            var result: [String: String] = [:]
            for (key, value) in object {
                guard case .string(let text) = value else {
                    throw APIError.badRequest("field \(field).\(key) must be a string")
                }
                result[key] = text
            }
            return result
        default: throw APIError.badRequest("field \(field) must be an object")
        }
    }

    func name(_ field: String) throws -> String? {
        try string(field).map { text in
            guard Self.isName(text) else {
                throw APIError.badRequest("field \(field) must be a name of letters, digits, '.', '_' or '-'")
            }
            return text
        }
    }

    /// A name that becomes a folder of the store (a cluster, datacenter, rack): never empty, `.` or `..`.
    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text != "." && text != ".."
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}

// The typed requests, read from bodies whose every field was checked.
extension BackupRequest {
    init(_ body: RequestBody) throws {
        self.init(type: try body.type(), snapshotID: try body.snapshot("snapshot_id"))
    }

    static let fields: Set<String> = ["type", "snapshot_id"]
}

extension RestoreRequest {
    init(_ body: RequestBody) throws {
        self.init(
            date: try body.date(), snapshot: try body.snapshot(), sourceCluster: try body.name("source_cluster"),
            sourceDatacenter: try body.name("source_datacenter"), sourceRack: try body.name("source_rack"),
            dryRun: try body.bool("dry_run") ?? false, force: try body.bool("force") ?? false)
        toTime = try body.date("to_time")
        try checkPoint()
    }

    static let fields: Set<String> = [
        "date", "to_time", "source_cluster", "source_datacenter", "source_rack", "snapshot", "dry_run", "force",
    ]
}

extension VerificationRequest {
    init(_ body: RequestBody) throws {
        self.init(
            snapshot: try body.snapshot(), all: try body.bool("all") ?? false, load: try body.bool("load") ?? false)
        if snapshot != nil && all { throw APIError.badRequest("snapshot and all: choose one") }
    }

    static let fields: Set<String> = ["snapshot", "all", "load"]
}

extension PruneRequest {
    init(_ body: RequestBody) throws {
        self.init(
            keepLast: try body.count("keep_last"), keepHourly: try body.count("keep_hourly"),
            keepDaily: try body.count("keep_daily"), keepWeekly: try body.count("keep_weekly"),
            keepMonthly: try body.count("keep_monthly"), keepWithin: try body.string("keep_within"),
            dryRun: try body.bool("dry_run") ?? false)
    }

    static let fields: Set<String> = [
        "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_within", "dry_run",
    ]
}

extension RingBackupRequest {
    init(_ body: RequestBody) throws { self.init(type: try body.type()) }

    static let fields: Set<String> = ["type"]
}

extension RingRestoreRequest {
    init(_ body: RequestBody) throws {
        self.init(
            date: try body.date(), snapshot: try body.snapshot(), sourceCluster: try body.name("source_cluster"),
            dryRun: try body.bool("dry_run") ?? false, rackByRack: try body.bool("rack_by_rack") ?? false,
            mapping: try body.stringMap("mapping") ?? [:])
        toTime = try body.date("to_time")
        if toTime != nil && (date != nil || snapshot != nil) {
            throw APIError.badRequest("to_time goes with neither date nor snapshot: choose one")
        }
    }

    static let fields: Set<String> = [
        "date", "to_time", "snapshot", "source_cluster", "dry_run", "rack_by_rack", "mapping",
    ]
}
