import DynokeeperConfiguration
import DynokeeperEngine
import Foundation
import Logging
import ObjectStorage

/// What most commands need: the configuration, the node, its Redis connector and the store.
struct NodeContext {
    var configuration: DynokeeperConfiguration
    var node: NodeSettings
    var connector: RedisConnector
    var store: any ObjectStore
    var logger: Logger

    static func open(_ options: GlobalOptions, connectRedis: Bool = true) async throws -> NodeContext {
        let (configuration, logger) = try options.load()
        let node = try NodeSettings.resolve(configuration)
        let store = try StoreFactory.makeStore(
            configuration.storage, environment: ProcessInfo.processInfo.environment, logger: logger)
        return NodeContext(
            configuration: configuration, node: node,
            connector: RedisConnector(node: node, redis: configuration.redis, logger: logger), store: store, logger: logger)
    }

    func close() async {
        try? await store.shutdown()
    }
}
