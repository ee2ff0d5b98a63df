package import Foundation

/// dynokeeper's configuration: one YAML file, overridden by environment variables, checked as a whole.
package struct DynokeeperConfiguration: Sendable, Equatable {
    /// The cluster's name; the first level of the snapshot layout.
    package var cluster: String
    package var node: Node
    package var redis: Redis
    package var storage: Storage
    package var backup: Backup
    package var restore: Restore
    package var dynomite: Dynomite
    package var ring: Ring
    package var server: Server
    package var log: Log
    /// Which snapshots the daemon keeps after each scheduled backup (`retention.*`); nothing is removed when unset.
    package var retention = Retention()
    /// Scheduled verification of the stored snapshots (`verify.*`).
    package var verify = Verify()
    /// Client-side encryption of the stored snapshots (`encryption.*`).
    package var encryption = Encryption()
    /// Point-in-time recovery (`pitr.*`).
    package var pitr = PointInTime()
    /// Dynomite-manager's properties that dynokeeper does not use, for `config check`: its names that mean nothing
    /// here (wherever they are set) and the other properties of `config.dynomite_manager_properties`.
    package var ignoredProperties: [String] = []

    /// The `verify.*` keys.
    package struct Verify: Sendable, Equatable {
        /// When the daemon verifies this node's newest snapshot; never when unset.
        package var schedule: BackupSchedule?
        /// Also load it into a throwaway redis-server (a restore drill).
        package var load = false
        /// The redis-server a drill starts.
        package var redisServer = "redis-server"
    }

    /// The `retention.*` keys: restic's rules, a snapshot stays when any keeps it.
    package struct Retention: Sendable, Equatable {
        package var keepLast = 0
        package var keepHourly = 0
        package var keepDaily = 0
        package var keepWeekly = 0
        package var keepMonthly = 0
        package var keepWithin: Duration?

        package var isSet: Bool {
            keepLast + keepHourly + keepDaily + keepWeekly + keepMonthly > 0 || keepWithin != nil
        }
    }

    /// The node's identity, when it is not (all) read from dynomite.yml.
    package struct Node: Sendable, Equatable {
        package var dynomiteYAML: String?
        package var datacenter: String?
        package var rack: String?
        package var tokens: String?
        /// Where the node lock and the restore journal live; `nil`: `.dynokeeper` in Redis's data folder.
        package var stateDir: String?
        /// Environment variables passed on to the configured commands, besides a minimal set.
        package var commandEnvironment: [String] = []
    }

    package struct Redis: Sendable, Equatable {
        /// `nil`: the first of dynomite.yml's `servers`, else 127.0.0.1.
        package var host: String?
        /// `nil`: the first of dynomite.yml's `servers`, else 6379.
        package var port: Int?
        package var user: String?
        package var passwordFile: String?
        package var conf: String?
        package var dataDir: String?
        /// Starts Redis; restores need it, since they stop Redis.
        package var start: String?
        /// Stops Redis; `SHUTDOWN NOSAVE` when not set.
        package var stop: String?

        package init(
            host: String? = nil, port: Int? = nil, user: String? = nil, passwordFile: String? = nil,
            conf: String? = nil,
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
    package struct Dynomite: Sendable, Equatable {
        package var start: String?
        package var stop: String?
        /// Where Dynomite answers clients; by default dynomite.yml's `listen`.
        package var host: String?
        package var port: Int?

        package init(start: String? = nil, stop: String? = nil, host: String? = nil, port: Int? = nil) {
            self.start = start
            self.stop = stop
            self.host = host
            self.port = port
        }
    }

    package struct Storage: Sendable, Equatable {
        package enum ServerSideEncryption: String, Sendable, Equatable {
            case aes256 = "AES256"
            case kms = "aws:kms"
        }

        package var url: StorageURL
        /// Dynomite-manager's `base_dir` as it was given, when it set the store: its keys are `<base_dir>/<dc>/…`
        /// joined literally (`/backup/` makes `/backup//dc/…`), where ``url`` holds the tidied prefix.
        package var dynomiteManagerBaseDir: String?
        package var endpoint: String?
        package var region: String
        package var pathStyle: Bool?
        package var partSizeMB: Int
        package var concurrency: Int
        /// Tries of one request (or of one stretch of a transfer without progress), the first included.
        package var maxAttempts: Int = 10
        /// How long after its first failure a request is given up.
        package var giveUpAfterSeconds: Int = 120
        package var serverSideEncryption: ServerSideEncryption?
        package var kmsKeyID: String?
        package var profile: String?
        /// The most MiB of parts or ranges one transfer holds in memory (`storage.buffer_mb`).
        package var bufferMB: Int = 32
        /// Permissions of the local store's files and folders (`storage.local_file_mode`, `storage.local_folder_mode`):
        /// the owner's only by default, since they hold the whole dataset.
        package var localFileMode: UInt16 = 0o600
        package var localFolderMode: UInt16 = 0o700
    }

    package struct Backup: Sendable, Equatable {
        /// Which Redis persistence a backup takes.
        package enum PersistenceType: String, Sendable, Equatable, Codable, CaseIterable {
            /// A point-in-time RDB file made by BGSAVE.
            case rdb
            /// The append-only file (set) rewritten by BGREWRITEAOF.
            case aof
        }

        package enum Compression: String, Sendable, Equatable, Codable {
            case zstd
            case none
        }

        /// How an RDB backup gets the RDB from Redis.
        package enum Method: String, Sendable, Equatable, Codable {
            /// BGSAVE, then the file from Redis's data folder.
            case file
            /// Redis's replication link (`SYNC`, `rdb-only`): compressed and uploaded while Redis writes it.
            case stream
            /// The replication link when Redis allows it (Redis 7, a user with SYNC) and starts it without a wait
            /// longer than a BGSAVE would take; else BGSAVE and the file. The default.
            case auto
        }

        /// What a scheduled backup covers.
        package enum Scope: String, Sendable, Equatable, Codable {
            /// This node, on its own.
            case node
            /// The whole ring under one snapshot id, taken by one elected node.
            case ring
        }

        /// Whether scheduled backups run; backups asked for by hand run regardless.
        package var enabled: Bool
        package var schedule: BackupSchedule
        package var type: PersistenceType
        package var compression: Compression
        package var compressionLevel: Int
        package var scope: Scope = .node
        package var method: Method = .file
        /// Keep Redis's LZF compression of strings in a streamed RDB (`backup.keep_redis_lzf`). By default a streamed
        /// backup turns `rdbcompression` off for the moment its fork starts: zstd compresses the stream better and
        /// faster than on top of LZF.
        package var keepRedisLZF = false
        /// `dynomite-manager`: each backup also writes the day's object of Dynomite-manager's layout
        /// (`<dc>/<rack>/<token>/<epoch ms of the day>`, the RDB uncompressed), for a fleet that moves over, or back.
        package var format: Format = .dynokeeper

        /// The layouts backups write.
        package enum Format: String, Sendable, Equatable {
            case dynokeeper
            case dynomiteManager = "dynomite-manager"
        }
    }

    package struct Restore: Sendable, Equatable {
        /// Whether restores are allowed at all.
        package var enabled: Bool
        /// The default moment to restore to.
        package var date: Foundation.Date?
        /// The default moment a point-in-time restore brings the node to (`restore.to_time`): a base snapshot, then
        /// the archived commands up to it.
        package var toTime: Foundation.Date?
        /// Restore another cluster's data (refresh a test cluster from production).
        package var sourceCluster: String?
        /// The source's datacenter and rack, when their names differ from this node's.
        package var sourceDatacenter: String?
        package var sourceRack: String?
        /// How the snapshot's data gets into Redis.
        package var method: Method = .files
        /// Restore once when `serve` starts (`restore.on_start`, and what Dynomite-manager's `restore.enabled`
        /// meant): a new node fills itself from the configured date and source, and records that it did.
        package var onStart = false
        /// Which layout a restore looks in (`restore.format`).
        package var format: Format = .auto
        /// Where a restore date's day is read, and Dynomite-manager's daily objects are named (`restore.timezone`):
        /// Dynomite-manager named them by the local midnight of its JVM's time zone.
        package var timeZone = TimeZone(identifier: "UTC")!

        /// The snapshot layouts a restore takes.
        package enum Format: String, Sendable, Equatable, Codable {
            case dynokeeper
            case dynomiteManager = "dynomite-manager"
            /// The newest of either at or before the date: what a node needs while a fleet moves over.
            case auto
        }

        /// How a restore gets the data into Redis.
        package enum Method: String, Sendable, Equatable, Codable {
            /// Stop Redis, put the files in place, start it.
            case files
            /// Redis keeps running and loads the RDB over the replication protocol while it downloads.
            case online
        }
    }

    /// How this node's dynokeeper reaches the others of its ring.
    package struct Ring: Sendable, Equatable {
        /// Base URLs of the peer dynokeepers (this node's own may be among them).
        package var peers: [String]
        /// The peers' API port on the hosts of dynomite.yml's `dyn_seeds`, when `peers` is not given.
        package var peerPort: Int?
        /// The certificate authorities that `https://` peers are checked against (`ring.ca_file`); the system's
        /// when unset.
        package var caFile: String?
        /// Whether `http://` peers off loopback are allowed (`ring.allow_plaintext`): the token would cross the
        /// network in clear.
        package var allowPlaintext = false

        package init(peers: [String] = [], peerPort: Int? = nil) {
            self.peers = peers
            self.peerPort = peerPort
        }

        /// Why a peer URL is refused: `http://` to a host other than loopback, unless ``allowPlaintext``.
        package func plaintextProblem(_ url: String) -> String? {
            guard !allowPlaintext, url.lowercased().hasPrefix("http://") else { return nil }
            let authority = url.dropFirst("http://".count).prefix { $0 != "/" }
            let host =
                authority.hasPrefix("[")
                ? String(authority.dropFirst().prefix { $0 != "]" }) : String(authority.prefix { $0 != ":" })
            guard !Server.isLoopback(host) else { return nil }
            return
                "\(url) is http:// to another machine: the bearer token would cross the network in clear. Give the peers TLS (server.tls_cert_file, https:// peers, ring.ca_file), or set ring.allow_plaintext: true on a network you trust"
        }
    }

    /// The sidecar's REST API (`dynokeeper serve`).
    package struct Server: Sendable, Equatable {
        package var host: String
        package var port: Int
        /// The bearer token every endpoint but `/health` requires; `nil` for none (loopback only).
        package var token: String?
        /// Where the token came from, for messages (`server.token` or the file).
        package var tokenSource: String?
        /// Whether Dynomite-manager's admin GETs that act (backup, restore, start, stop) are served without a token
        /// on a loopback listener, for old scripts (`server.dynomite_manager_tokenless`); any web page opened on the
        /// node could then trigger them.
        package var dynomiteManagerTokenless = false
        /// The API's certificate chain and key (PEM): with them, the API answers HTTPS only, and peers present them
        /// as their client certificate. Re-read on SIGHUP.
        package var tlsCertFile: String?
        package var tlsKeyFile: String?
        /// Certificate authorities whose client certificates the API requires (`server.client_ca_file`): only
        /// holders of such a certificate (the ring's members) can call it.
        package var clientCAFile: String?
        /// More host names requests may be addressed to (`server.allowed_hosts`), besides IP addresses,
        /// `localhost`, this machine's name and the ring's peers.
        package var allowedHosts: [String] = []

        /// Whether the address is reachable from this machine only.
        package var isLoopback: Bool { Self.isLoopback(host) }

        /// Whether a host (an address or a name) is this machine's loopback: 127.0.0.0/8, `::1` or `localhost`.
        package static func isLoopback(_ host: String) -> Bool {
            if host == "::1" || host.lowercased() == "localhost" { return true }
            // An IPv4 address in 127.0.0.0/8, not any name that starts with "127.".
            var address = in_addr()
            guard inet_pton(AF_INET, host, &address) == 1 else { return false }
            return UInt32(bigEndian: address.s_addr) >> 24 == 127
        }
    }

    package struct Log: Sendable, Equatable {
        package enum Format: String, Sendable, Equatable { case text, json }
        package var level: String
        package var format: Format
    }

    /// Every key's effective value (secrets hidden) and where it came from, in `config check`'s order.
    package var effective: [(key: String, value: String, origin: ValueOrigin)] = []

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.cluster == rhs.cluster && lhs.node == rhs.node && lhs.redis == rhs.redis && lhs.storage == rhs.storage
            && lhs.backup == rhs.backup && lhs.restore == rhs.restore && lhs.dynomite == rhs.dynomite
            && lhs.ring == rhs.ring && lhs.server == rhs.server && lhs.log == rhs.log
    }
}
