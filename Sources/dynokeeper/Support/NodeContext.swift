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

    static func open(_ options: GlobalOptions) async throws -> NodeContext {
        let (configuration, logger) = try options.load()
        let node = try NodeSettings.resolve(configuration)
        let store = try StoreFactory.makeStore(
            configuration.storage, environment: ProcessInfo.processInfo.environment, logger: logger)
        return NodeContext(
            configuration: configuration, node: node,
            connector: RedisConnector(node: node, redis: configuration.redis, logger: logger), store: store, logger: logger)
    }

    /// The node lock and the unfinished-restore checks.
    var `guard`: NodeGuard { NodeGuard(configuration: configuration, connector: connector, logger: logger) }

    func close() async {
        try? await store.shutdown()
    }

    /// Opens the context, runs `body` with it, and closes it whatever happens.
    static func with(
        _ options: GlobalOptions, _ body: (NodeContext) async throws -> Void
    ) async throws {
        let context = try await open(options)
        do {
            try await body(context)
        } catch {
            await context.close()
            throw error
        }
        await context.close()
    }
}
