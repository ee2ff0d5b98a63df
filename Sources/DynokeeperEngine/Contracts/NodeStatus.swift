public import DynokeeperConfiguration
public import Foundation

/// `GET /v1/status`: what this node's dynokeeper, Redis and Dynomite are doing. A ring coordinator reads `node`
/// from it to learn who a peer is.
public struct NodeStatus: Sendable, Codable, Equatable {
    public struct Redis: Sendable, Codable, Equatable {
        public var address: String
        public var up: Bool
        public var loading: Bool?
        public var lastSave: Date?
        public var version: String?

        public init(address: String, up: Bool, loading: Bool? = nil, lastSave: Date? = nil, version: String? = nil) {
            self.address = address
            self.up = up
            self.loading = loading
            self.lastSave = lastSave
            self.version = version
        }
    }

    public struct Dynomite: Sendable, Codable, Equatable {
        public var up: Bool

        public init(up: Bool) { self.up = up }
    }

    public var version: String
    public var node: NodeIdentity
    public var redis: Redis
    public var dynomite: Dynomite?
    public var currentJob: Job?
    public var lastBackup: Job?
    public var lastRestore: Job?
    /// The operation holding the node lock (from this daemon or the CLI).
    public var nodeOperation: NodeLock.Holder?
    /// A restore that did not finish: backups are refused until it is resumed or rolled back.
    public var unfinishedRestore: UnfinishedRestore?
    public var stateProblem: String?
    public var backupsEnabled: Bool
    public var restoresEnabled: Bool
    public var schedule: String
    public var nextScheduledBackup: Date?
    public var store: String
    public var startedAt: Date

    public init(
        version: String, node: NodeIdentity, redis: Redis, dynomite: Dynomite?, currentJob: Job?, lastBackup: Job?,
        lastRestore: Job?, state: NodeState, backupsEnabled: Bool, restoresEnabled: Bool, schedule: String,
        nextScheduledBackup: Date?, store: String, startedAt: Date
    ) {
        self.version = version
        self.node = node
        self.redis = redis
        self.dynomite = dynomite
        self.currentJob = currentJob
        self.lastBackup = lastBackup
        self.lastRestore = lastRestore
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

/// `GET /v1/ring/snapshots`.
public struct RingSnapshotList: Sendable, Codable, Equatable {
    public var cluster: String
    public var snapshots: [String]

    public init(cluster: String, snapshots: [String]) {
        self.cluster = cluster
        self.snapshots = snapshots
    }
}

/// The API's error body, `{"error": {"code", "message"}}`.
public struct ErrorBody: Sendable, Codable, Equatable {
    public struct Detail: Sendable, Codable, Equatable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(code: String, message: String) { error = Detail(code: code, message: message) }
}

/// JSON as the API, the peers and the CLI's `--json` write and read it: snake_case keys, ISO 8601 dates.
public enum APIJSON {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// One line of JSON, as the CLI's `--json` prints it.
    public static func line(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
