import Foundation

/// Who a node is in its ring: what the snapshot layout and ring restores go by.
package struct NodeIdentity: Sendable, Equatable, Codable, CustomStringConvertible {
    package var cluster: String
    package var datacenter: String
    package var rack: String
    /// The node's token(s), as dynomite.yml writes them.
    package var tokens: String

    package init(cluster: String, datacenter: String, rack: String, tokens: String) {
        self.cluster = cluster
        self.datacenter = datacenter
        self.rack = rack
        self.tokens = tokens
    }

    /// `dc/rack/tokens`, the node's place within its cluster.
    package var description: String { "\(datacenter)/\(rack)/\(tokens)" }

    /// The defaults for a plain Redis without Dynomite.
    package static let defaultDatacenter = "dc1"
    package static let defaultRack = "rack1"
    package static let defaultTokens = "0"
}

/// The node as dynokeeper sees it: identity, where its Redis listens, and its Dynomite settings if any.
package struct NodeSettings: Sendable {
    package var identity: NodeIdentity
    package var redisHost: String
    package var redisPort: Int
    /// The parsed dynomite.yml, when the node runs Dynomite.
    package var dynomite: DynomiteYAML?

    package init(identity: NodeIdentity, redisHost: String, redisPort: Int, dynomite: DynomiteYAML?) {
        self.identity = identity
        self.redisHost = redisHost
        self.redisPort = redisPort
        self.dynomite = dynomite
    }

    /// Why a cluster, datacenter or rack name cannot become a store folder; `nil` when it can.
    package static func nameProblem(_ name: String) -> String? { TypedReader.checkName(name) }

    /// Why these names cannot become store folders (empty, `.`, `..`, `/`, control characters, non-ASCII) or the
    /// tokens are not tokens; `nil` when all are fine. For identities read from elsewhere than the configuration,
    /// such as a ring manifest in the store.
    package static func problem(cluster: String, datacenter: String, rack: String, tokens: String) -> String? {
        for (field, value) in [("cluster", cluster), ("datacenter", datacenter), ("rack", rack)] {
            if let problem = TypedReader.checkName(value) { return "\(field) \(value.debugDescription): \(problem)" }
        }
        return TypedReader.checkTokens(tokens).map { "tokens \(tokens.debugDescription): \($0)" }
    }

    /// Combines the configuration with the node's dynomite.yml: explicit `node.*` and `redis.*` settings win,
    /// then dynomite.yml, then the defaults for a plain Redis.
    package static func resolve(_ configuration: DynokeeperConfiguration) throws -> NodeSettings {
        let dynomite = try configuration.node.dynomiteYAML.map(DynomiteYAML.load)
        if let dynomite, let store = dynomite.dataStore, store != 0 {
            throw ConfigurationError(
                "dynomite.yml \(dynomite.path): data_store is \(store) (memcached); dynokeeper backs up Redis (data_store: 0)"
            )
        }
        func name(_ value: String?, _ field: String) throws -> String? {
            guard let value else { return nil }
            if let problem = TypedReader.checkName(value) {
                throw ConfigurationError("dynomite.yml \(dynomite?.path ?? ""): \(field) \"\(value)\": \(problem)")
            }
            return value
        }
        let tokens = configuration.node.tokens ?? dynomite?.tokens ?? NodeIdentity.defaultTokens
        if let problem = TypedReader.checkTokens(tokens) {
            throw ConfigurationError("dynomite.yml \(dynomite?.path ?? ""): tokens \"\(tokens)\": \(problem)")
        }
        let identity = NodeIdentity(
            cluster: configuration.cluster,
            datacenter: try configuration.node.datacenter ?? name(dynomite?.datacenter, "datacenter")
                ?? NodeIdentity.defaultDatacenter,
            rack: try configuration.node.rack ?? name(dynomite?.rack, "rack") ?? NodeIdentity.defaultRack,
            tokens: tokens.replacingOccurrences(of: " ", with: ""))
        let server = dynomite?.servers.first
        return NodeSettings(
            identity: identity,
            redisHost: configuration.redis.host ?? server?.host ?? "127.0.0.1",
            redisPort: configuration.redis.port ?? server?.port ?? 6379,
            dynomite: dynomite)
    }
}
