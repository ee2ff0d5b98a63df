import DynokeeperConfiguration
import Foundation
import Testing

@Suite struct NodeIdentityTests {
    static let sample = """
        dyn_o_mite:
          datacenter: us-east-1
          rack: us-east-1c
          dyn_listen: 0.0.0.0:8101
          dyn_seeds:
          - 10.0.0.2:8101:us-east-1d:us-east-1:1383429731
          - 10.0.0.3:8101:us-east-1e:us-east-1:2147483647
          listen: 0.0.0.0:8102
          servers:
          - 127.0.0.1:22122:1
          tokens: '4294967295'
          data_store: 0
          stats_listen: 0.0.0.0:22222
        """

    static func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dynomite-\(UUID().uuidString).yml")
            .path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    @Test func dynomiteYAMLIsRead() throws {
        let yaml = try DynomiteYAML.parse(Self.sample, path: "dynomite.yml")
        #expect(yaml.pool == "dyn_o_mite")
        #expect(yaml.datacenter == "us-east-1")
        #expect(yaml.rack == "us-east-1c")
        #expect(yaml.tokens == "4294967295")
        #expect(yaml.servers == [.init(host: "127.0.0.1", port: 22122, weight: 1)])
        #expect(yaml.seeds.count == 2)
        #expect(
            yaml.seeds[1]
                == .init(
                    host: "10.0.0.3", port: 8101, rack: "us-east-1e", datacenter: "us-east-1", tokens: "2147483647"))
        #expect(yaml.statsListen == "0.0.0.0:22222")
        #expect(yaml.dynListen == "0.0.0.0:8101")
        #expect(yaml.dataStore == 0)
    }

    @Test func identityComesFromDynomiteYAMLWithConfigurationOverrides() throws {
        let path = try Self.write(Self.sample)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = try DynokeeperConfiguration.parse(
            yaml: "cluster: prod-users\nnode:\n  dynomite_yaml: \(path)\n", path: "dynokeeper.yml")
        var node = try NodeSettings.resolve(configuration)
        #expect(
            node.identity
                == NodeIdentity(
                    cluster: "prod-users", datacenter: "us-east-1", rack: "us-east-1c", tokens: "4294967295"))
        #expect(node.redisHost == "127.0.0.1")
        #expect(node.redisPort == 22122)
        #expect(node.dynomite?.seeds.count == 2)

        configuration.node.rack = "override-rack"
        configuration.redis.port = 6380
        node = try NodeSettings.resolve(configuration)
        #expect(node.identity.rack == "override-rack")
        #expect(node.identity.datacenter == "us-east-1")
        #expect(node.redisPort == 6380)
    }

    @Test func plainRedisGetsDefaults() throws {
        let node = try NodeSettings.resolve(try DynokeeperConfiguration.parse(yaml: "", path: "x"))
        #expect(node.identity == NodeIdentity(cluster: "dynomite", datacenter: "dc1", rack: "rack1", tokens: "0"))
        #expect(node.redisHost == "127.0.0.1")
        #expect(node.redisPort == 6379)
        #expect(node.dynomite == nil)
    }

    @Test(arguments: [
        ("just text", "expected one top-level key"),
        ("a: 1\nb: 2\n", "expected one top-level key"),
        ("dyn_o_mite:\n  servers: 127.0.0.1:22122:1\n", "dyn_o_mite.servers must be a list"),
        ("dyn_o_mite:\n  servers:\n  - 127.0.0.1\n", "servers[0] \"127.0.0.1\" is not host:port:weight"),
        ("dyn_o_mite:\n  servers:\n  - 127.0.0.1:99999:1\n", "has an invalid port"),
        (
            "dyn_o_mite:\n  dyn_seeds:\n  - 10.0.0.2:8101:rack\n",
            "dyn_seeds[0] \"10.0.0.2:8101:rack\" is not host:port:rack:datacenter:token"
        ),
        ("dyn_o_mite:\n  data_store: redis\n", "data_store must be 0"),
        ("dyn_o_mite: [\n", "not valid YAML"),
    ])
    func malformedDynomiteYAMLNamesTheFileAndField(text: String, expected: String) {
        do {
            _ = try DynomiteYAML.parse(text, path: "/etc/dynomite/dynomite.yml")
            Issue.record("no error for \(text)")
        } catch {
            #expect("\(error)".hasPrefix("dynomite.yml /etc/dynomite/dynomite.yml: "))
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test func badValuesInAValidFileAreCaughtToo() throws {
        let memcached = try Self.write("dyn_o_mite:\n  data_store: 1\n")
        let badTokens = try Self.write("dyn_o_mite:\n  tokens: abc\n")
        let badRack = try Self.write("dyn_o_mite:\n  rack: a/b\n")
        defer { for path in [memcached, badTokens, badRack] { try? FileManager.default.removeItem(atPath: path) } }
        for (path, expected) in [(memcached, "memcached"), (badTokens, "unsigned 32-bit"), (badRack, "rack \"a/b\"")] {
            let configuration = try DynokeeperConfiguration.parse(yaml: "node:\n  dynomite_yaml: \(path)\n", path: "x")
            #expect(throws: ConfigurationError.self) { _ = try NodeSettings.resolve(configuration) }
            do { _ = try NodeSettings.resolve(configuration) } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        let missing = try DynokeeperConfiguration.parse(yaml: "node:\n  dynomite_yaml: /nonexistent.yml\n", path: "x")
        #expect(throws: ConfigurationError("node.dynomite_yaml: cannot read /nonexistent.yml")) {
            _ = try NodeSettings.resolve(missing)
        }
    }
}
