/// dynokeeper's configuration: one YAML file, overridden by environment variables, checked as a whole.
public struct DynokeeperConfiguration: Sendable, Equatable {
    /// The cluster's name; the first level of the snapshot layout.
    public var cluster: String
    public var node: Node
    public var redis: Redis
    public var storage: Storage
    public var backup: Backup
    public var restore: Restore
    public var dynomite: Dynomite
    public var ring: Ring
    public var server: Server
    public var log: Log

    /// The node's identity, when it is not (all) read from dynomite.yml.
    public struct Node: Sendable, Equatable {
        public var dynomiteYAML: String?
        public var datacenter: String?
        public var rack: String?
        public var tokens: String?
        /// Where the node lock and the restore journal live; `nil`: `.dynokeeper` in Redis's data folder.
        public var stateDir: String?
        /// Environment variables passed on to the configured commands, besides a minimal set.
        public var commandEnvironment: [String] = []
    }

    public struct Redis: Sendable, Equatable {
        /// `nil`: the first of dynomite.yml's `servers`, else 127.0.0.1.
        public var host: String?
        /// `nil`: the first of dynomite.yml's `servers`, else 6379.
        public var port: Int?
        public var user: String?
        public var passwordFile: String?
        public var conf: String?
        public var dataDir: String?
        /// Starts Redis; restores need it, since they stop Redis.
        public var start: String?
        /// Stops Redis; `SHUTDOWN NOSAVE` when not set.
        public var stop: String?

        public init(
            host: String? = nil, port: Int? = nil, user: String? = nil, passwordFile: String? = nil, conf: String? = nil,
            dataDir: String? = nil, start: String? = nil, stop: String? = nil
        ) {
            self.host = host
            self.port = port
            self.user = user
            self.passwordFile = passwordFile
            self.conf = conf
            self.dataDir = dataDir
            self.start = start
            self.stop = stop
        }
    }

    /// How to stop and start Dynomite around a restore (plain Redis nodes leave it unset).
    public struct Dynomite: Sendable, Equatable {
        public var start: String?
        public var stop: String?
        /// Where Dynomite answers clients; by default dynomite.yml's `listen`.
        public var host: String?
        public var port: Int?

        public init(start: String? = nil, stop: String? = nil, host: String? = nil, port: Int? = nil) {
            self.start = start
            self.stop = stop
            self.host = host
            self.port = port
        }
    }

    public struct Storage: Sendable, Equatable {
        public enum ServerSideEncryption: String, Sendable, Equatable {
            case aes256 = "AES256"
            case kms = "aws:kms"
        }

        public var url: StorageURL
        public var endpoint: String?
        public var region: String
        public var pathStyle: Bool?
        public var partSizeMB: Int
        public var concurrency: Int
        /// Tries of one request (or of one stretch of a transfer without progress), the first included.
        public var maxAttempts: Int = 10
        /// How long after its first failure a request is given up.
        public var giveUpAfterSeconds: Int = 120
        public var serverSideEncryption: ServerSideEncryption?
        public var kmsKeyID: String?
        public var profile: String?
    }

    public struct Backup: Sendable, Equatable {
        /// Which Redis persistence a backup takes.
        public enum PersistenceType: String, Sendable, Equatable, Codable, CaseIterable {
            /// A point-in-time RDB file made by BGSAVE.
            case rdb
            /// The append-only file (set) rewritten by BGREWRITEAOF.
            case aof
        }

        public enum Compression: String, Sendable, Equatable, Codable {
            case zstd
            case none
        }

        /// What a scheduled backup covers.
        public enum Scope: String, Sendable, Equatable, Codable {
            /// This node, on its own.
            case node
            /// The whole ring under one snapshot id, taken by one elected node.
            case ring
        }

        /// Whether scheduled backups run; backups asked for by hand run regardless.
        public var enabled: Bool
        public var schedule: BackupSchedule
        public var type: PersistenceType
        public var compression: Compression
        public var compressionLevel: Int
        public var scope: Scope = .node
    }

    public struct Restore: Sendable, Equatable {
        /// Whether restores are allowed at all.
        public var enabled: Bool
        /// The default moment to restore to.
        public var date: Foundation.Date?
        /// Restore another cluster's data (refresh a test cluster from production).
        public var sourceCluster: String?
        /// The source's datacenter and rack, when their names differ from this node's.
        public var sourceDatacenter: String?
        public var sourceRack: String?
    }

    /// How this node's dynokeeper reaches the others of its ring.
    public struct Ring: Sendable, Equatable {
        /// Base URLs of the peer dynokeepers (this node's own may be among them).
        public var peers: [String]
        /// The peers' API port on the hosts of dynomite.yml's `dyn_seeds`, when `peers` is not given.
        public var peerPort: Int?

        public init(peers: [String] = [], peerPort: Int? = nil) {
            self.peers = peers
            self.peerPort = peerPort
        }
    }

    /// The sidecar's REST API (`dynokeeper serve`).
    public struct Server: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// The bearer token every endpoint but `/health` requires; `nil` for none (loopback only).
        public var token: String?
        /// Where the token came from, for messages (`server.token` or the file).
        public var tokenSource: String?

        /// Whether the address is reachable from this machine only.
        public var isLoopback: Bool { host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.") }
    }

    public struct Log: Sendable, Equatable {
        public enum Format: String, Sendable, Equatable { case text, json }
        public var level: String
        public var format: Format
    }

    /// Every key's effective value (secrets hidden) and where it came from, in `config check`'s order.
    public var effective: [(key: String, value: String, origin: ValueOrigin)] = []

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.cluster == rhs.cluster && lhs.node == rhs.node && lhs.redis == rhs.redis && lhs.storage == rhs.storage
            && lhs.backup == rhs.backup && lhs.restore == rhs.restore && lhs.dynomite == rhs.dynomite && lhs.ring == rhs.ring && lhs.server == rhs.server && lhs.log == rhs.log
    }
}

public import Foundation
