package import DynokeeperConfiguration
package import Foundation

/// `GET /v1/status`: what this node's dynokeeper, Redis and Dynomite are doing. A ring coordinator reads `node`
/// from it to learn who a peer is.
package struct NodeStatus: Sendable, Codable, Equatable {
    package struct Redis: Sendable, Codable, Equatable {
        package var address: String
        /// Whether something listens at the address (a Redis that refuses our password, or hangs, is up).
        package var up: Bool
        /// Whether it answered `INFO` with dynokeeper's credentials: what the metrics and Dynomite-manager's health
        /// go by.
        package var answers: Bool
        package var loading: Bool?
        package var lastSave: Date?
        package var version: String?

        package init(
            address: String, up: Bool, answers: Bool, loading: Bool? = nil, lastSave: Date? = nil,
            version: String? = nil
        ) {
            self.address = address
            self.up = up
            self.answers = answers
            self.loading = loading
            self.lastSave = lastSave
            self.version = version
        }
    }

    package struct Dynomite: Sendable, Codable, Equatable {
        package var up: Bool

        package init(up: Bool) { self.up = up }
    }

    /// The version of these contracts (jobs, results, requests): ring operations need every node on the same
    /// one, and a coordinator refuses peers on another before it asks anything of them.
    package static let currentContract = 2

    package var version: String
    package var contract = NodeStatus.currentContract
    package var node: NodeIdentity
    package var redis: Redis
    package var dynomite: Dynomite?
    package var currentJob: Job?
    package var lastBackup: Job?
    package var lastRestore: Job?
    /// The state folder (`node.state_dir`, by default `.dynokeeper` in Redis's data folder), when it was found.
    package var stateFolder: String?
    /// The operation holding the node lock (from this daemon or the CLI).
    package var nodeOperation: NodeLock.Holder?
    /// A restore that did not finish: backups are refused until it is resumed or rolled back.
    package var unfinishedRestore: UnfinishedRestore?
    package var stateProblem: String?
    /// `restore.on_start`'s outcome as the state folder records it: `restored`, `skipped` (Redis already held data),
    /// or `pending` (not recorded yet: running, failed, or never reached Redis); absent when it is off.
    package var restoreOnStart: String?
    /// The point-in-time archiver, when `pitr.enabled`: how far the stored archive reaches, and its lag.
    package var pitr: StreamArchiver.Status?
    package var backupsEnabled: Bool
    package var restoresEnabled: Bool
    package var schedule: String
    package var nextScheduledBackup: Date?
    package var store: String
    /// When the daemon started; absent from `dynokeeper status --json`.
    package var startedAt: Date?
    /// This run of the daemon (a random id drawn at start-up): a ring coordinator tells one node listed under two
    /// URLs (one instance) from two daemons that claim one identity (two instances). Absent from
    /// `dynokeeper status --json`.
    package var instance: String?

    package init(
        version: String, node: NodeIdentity, redis: Redis, dynomite: Dynomite?, currentJob: Job?, lastBackup: Job?,
        lastRestore: Job?, state: NodeState, backupsEnabled: Bool, restoresEnabled: Bool, schedule: String,
        nextScheduledBackup: Date?, store: String, startedAt: Date?
    ) {
        self.version = version
        self.node = node
        self.redis = redis
        self.dynomite = dynomite
        self.currentJob = currentJob
        self.lastBackup = lastBackup
        self.lastRestore = lastRestore
        self.stateFolder = state.stateFolder
        self.nodeOperation = state.operation
        self.unfinishedRestore = state.unfinishedRestore
        self.stateProblem = state.problem
        self.backupsEnabled = backupsEnabled
        self.restoresEnabled = restoresEnabled
        self.schedule = schedule
        self.nextScheduledBackup = nextScheduledBackup
        self.store = store
        self.startedAt = startedAt
    }
}

extension NodeStatus {
    /// What a ring coordinator reads of a peer's status, whatever release the peer runs: who it is and which
    /// contract it speaks (none before contract 2).
    package struct Identity: Sendable, Decodable, Equatable {
        package var node: NodeIdentity
        package var version: String?
        package var contract: Int?
        /// `nil` from a peer of an older release.
        package var instance: String?
    }
}

/// `GET /v1/ring/snapshots`.
package struct RingSnapshotList: Sendable, Codable, Equatable {
    package var cluster: String
    package var snapshots: [String]

    package init(cluster: String, snapshots: [String]) {
        self.cluster = cluster
        self.snapshots = snapshots
    }
}

/// The API's error body, `{"error": {"code", "message"}}`.
package struct ErrorBody: Sendable, Codable, Equatable {
    package struct Detail: Sendable, Codable, Equatable {
        package var code: String
        package var message: String
    }

    package var error: Detail

    package init(code: String, message: String) { error = Detail(code: code, message: message) }
}

/// JSON as the API, the peers and the CLI's `--json` write and read it: snake_case keys, ISO 8601 dates.
package enum APIJSON {
    package static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Whole seconds as ever; a moment with milliseconds (a point-in-time restore's, an archive's window) keeps
        // them.
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(text(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    package static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard
                let date = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                    ?? (try? Date.ISO8601FormatStyle().parse(text))
            else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "\(text) is not an ISO 8601 date"))
            }
            return date
        }
        return decoder
    }()

    /// A moment in ISO 8601, UTC: whole seconds as ever, with milliseconds when it has them (`2026-11-20T14:03:07Z`,
    /// `2026-11-20T14:03:07.250Z`). Made from whole milliseconds: a formatter truncates, and 07.567 may be 07.56699.
    package static func text(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let fraction = (remainder + 1000) % 1000
        var text = Date.ISO8601FormatStyle().format(
            Date(timeIntervalSince1970: Double(remainder < 0 ? seconds - 1 : seconds)))
        if fraction != 0 {
            let digits = String(fraction)
            text.insert(
                contentsOf: "." + String(repeating: "0", count: 3 - digits.count) + digits,
                at: text.index(before: text.endIndex))
        }
        return text
    }

    /// One line of JSON, as the CLI's `--json` prints it.
    package static func line(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
