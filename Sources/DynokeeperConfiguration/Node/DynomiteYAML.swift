import Foundation
import Yams

/// What a node's dynomite.yml says about it: one pool (the top-level key, such as `dyn_o_mite`) with its
/// datacenter, rack, tokens, the storage servers behind it and the seeds of the ring.
package struct DynomiteYAML: Sendable, Equatable {
    /// A storage server line: `host:port:weight`.
    package struct Server: Sendable, Equatable {
        package var host: String
        package var port: Int
        package var weight: Int

        package init(host: String, port: Int, weight: Int) {
            self.host = host
            self.port = port
            self.weight = weight
        }
    }

    /// A seed line: `host:port:rack:datacenter:token`.
    package struct Seed: Sendable, Equatable {
        package var host: String
        package var port: Int
        package var rack: String
        package var datacenter: String
        package var tokens: String

        package init(host: String, port: Int, rack: String, datacenter: String, tokens: String) {
            self.host = host
            self.port = port
            self.rack = rack
            self.datacenter = datacenter
            self.tokens = tokens
        }
    }

    package var path: String
    package var pool: String
    package var datacenter: String?
    package var rack: String?
    package var tokens: String?
    package var servers: [Server]
    package var seeds: [Seed]
    /// Client port (`listen`), peer port (`dyn_listen`) and stats port (`stats_listen`), as `host:port`.
    package var listen: String?
    package var dynListen: String?
    package var statsListen: String?
    /// 0 for Redis, 1 for memcached.
    package var dataStore: Int?

    /// Reads and parses a dynomite.yml.
    /// - Throws: ``ConfigurationError`` naming the file and the field.
    package static func load(_ path: String) throws -> DynomiteYAML {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError("node.dynomite_yaml: cannot read \(path)")
        }
        return try parse(text, path: path)
    }

    package static func parse(_ text: String, path: String) throws -> DynomiteYAML {
        func fail(_ detail: String) -> ConfigurationError { ConfigurationError("dynomite.yml \(path): \(detail)") }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            // By line and column only: Yams's own message quotes the line, which may hold a password.
            throw fail("not valid YAML: \(RawValues.describe(error, in: text))")
        } catch {
            throw fail("not valid YAML")
        }
        guard case .mapping(let top)? = root, top.count == 1, let (poolKey, poolNode) = top.first,
            let pool = poolKey.string
        else {
            throw fail("expected one top-level key, the pool name (such as dyn_o_mite:), holding the settings")
        }
        guard case .mapping(let settings) = poolNode else { throw fail("\(pool) must hold a mapping of settings") }

        func scalar(_ key: String) throws -> String? {
            guard let node = settings[Node(key)] else { return nil }
            guard case .scalar(let value) = node else { throw fail("\(pool).\(key) must be a single value") }
            return value.string.isEmpty ? nil : value.string
        }
        func list(_ key: String) throws -> [(String, Int)] {
            guard let node = settings[Node(key)] else { return [] }
            guard case .sequence(let items) = node else { throw fail("\(pool).\(key) must be a list") }
            return try items.enumerated().map { index, item in
                guard let text = item.string else { throw fail("\(pool).\(key)[\(index)] must be text") }
                return (text, item.mark?.line ?? 0)
            }
        }
        func port(_ text: Substring, _ field: String) throws -> Int {
            guard let number = Int(text), (1...65535).contains(number) else {
                throw fail("\(field) has an invalid port \"\(text)\"")
            }
            return number
        }

        var result = DynomiteYAML(
            path: path, pool: pool, datacenter: try scalar("datacenter"), rack: try scalar("rack"),
            tokens: try scalar("tokens"), servers: [], seeds: [], listen: try scalar("listen"),
            dynListen: try scalar("dyn_listen"), statsListen: try scalar("stats_listen"), dataStore: nil)
        if let store = try scalar("data_store") {
            guard let value = Int(store) else { throw fail("\(pool).data_store must be 0 (redis) or 1 (memcached)") }
            result.dataStore = value
        }
        for (index, (line, _)) in try list("servers").enumerated() {
            let field = "\(pool).servers[\(index)] \"\(line)\""
            let parts = line.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3 || parts.count == 2, !parts[0].isEmpty else {
                throw fail("\(field) is not host:port:weight")
            }
            let weight = parts.count == 3 ? Int(parts[2]) : 1
            guard let weight else { throw fail("\(field) has an invalid weight") }
            result.servers.append(Server(host: String(parts[0]), port: try port(parts[1], field), weight: weight))
        }
        for (index, (line, _)) in try list("dyn_seeds").enumerated() {
            let field = "\(pool).dyn_seeds[\(index)] \"\(line)\""
            let parts = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 5, !parts[0].isEmpty, !parts[2].isEmpty, !parts[3].isEmpty, !parts[4].isEmpty else {
                throw fail("\(field) is not host:port:rack:datacenter:token")
            }
            result.seeds.append(
                Seed(
                    host: parts[0], port: try port(Substring(parts[1]), field), rack: parts[2], datacenter: parts[3],
                    tokens: parts[4]))
        }
        return result
    }
}
