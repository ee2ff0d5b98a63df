package import DynokeeperConfiguration
import Foundation
package import Logging

/// The configuration the daemon runs with, re-read on SIGHUP: the schedule and the enabled flags take effect
/// at once; a file that does not load is rejected and the previous configuration kept.
package actor ConfigurationHolder {
    package private(set) var current: DynokeeperConfiguration
    /// Increases with every accepted reload.
    package private(set) var version = 0
    let path: String?
    let environment: [String: String]
    let logger: Logger
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0

    package init(_ configuration: DynokeeperConfiguration, path: String?, environment: [String: String], logger: Logger)
    {
        self.current = configuration
        self.path = path
        self.environment = environment
        self.logger = logger
    }

    /// Reads the file again.
    /// - Returns: `nil` when the new configuration was taken, else the error (the old one stays).
    @discardableResult
    package func reload() -> (any Error)? {
        do {
            let fresh = try DynokeeperConfiguration.load(path: path, environment: environment)
            if fresh.storage != current.storage || fresh.redis != current.redis || fresh.node != current.node
                || fresh.server != current.server || fresh.cluster != current.cluster || fresh.pitr != current.pitr
            {
                logger.warning(
                    "configuration reloaded; changes to cluster, node, redis, storage, server and pitr take effect at the next restart"
                )
            } else {
                logger.info("configuration reloaded")
            }
            current = fresh
            version += 1
            for waiter in waiters.values { waiter.resume() }
            waiters.removeAll()
            return nil
        } catch {
            logger.error("configuration reload rejected, keeping the previous one: \(error)")
            return error
        }
    }

    /// Waits until the configuration changes after `version`, or the task is cancelled.
    package func changed(after version: Int) async {
        if self.version > version { return }
        nextWaiter += 1
        let id = nextWaiter
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { continuation.resume() } else { waiters[id] = continuation }
            }
        } onCancel: {
            Task { await self.release(id) }
        }
    }

    private func release(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
    }
}
