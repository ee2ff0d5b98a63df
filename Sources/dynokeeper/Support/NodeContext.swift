import DynokeeperConfiguration
import DynokeeperEngine
import Foundation
import Logging
import ObjectStorage

/// What most commands need: the configuration, the node, its Redis connector and the store.
struct NodeContext {
    var components: NodeComponents
    var configuration: DynokeeperConfiguration { components.configuration }
    var node: NodeSettings { components.node }
    var connector: RedisConnector { components.connector }
    var store: any ObjectStore { components.store }
    var logger: Logger { components.logger }

    static func open(_ options: GlobalOptions) async throws -> NodeContext {
        let (configuration, logger) = try options.load()
        let node = try NodeSettings.resolve(configuration)
        let store = try StoreFactory.makeStore(
            configuration.storage, environment: ProcessInfo.processInfo.environment, logger: logger)
        return NodeContext(
            components: NodeComponents(configuration: configuration, node: node, store: store, logger: logger))
    }

    /// The node lock and the unfinished-restore checks.
    var `guard`: NodeGuard { components.nodeGuard }

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
