package import DynokeeperConfiguration
import Foundation
package import ObjectStorage
import RedisClient

/// An error of dynokeeper's own, with a code that decides the HTTP status (in the server) and the exit status
/// (in the CLI), each in one place. In the style of async-http-client's `HTTPClientError`: a small set of codes
/// plus a message that says what happened and what to do.
package struct DynokeeperError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure it is. The raw value is the `code` of the API's error body.
    package enum Code: String, Sendable, Codable, CaseIterable {
        /// A request, flag or body that cannot be served as given.
        case invalidRequest = "invalid_request"
        /// The configuration cannot serve the request (such as no `redis.start` for a restore).
        case invalidConfiguration = "invalid_configuration"
        /// Restores are not enabled on this node.
        case restoresDisabled = "restores_disabled"
        /// Another operation holds the node lock.
        case busy
        /// A job already runs in this daemon.
        case jobRunning = "job_running"
        /// The daemon is shutting down and starts nothing new.
        case shuttingDown = "shutting_down"
        /// A restore did not finish: it must be resumed or rolled back first.
        case unfinishedRestore = "unfinished_restore"
        /// A resume or rollback was asked for, but no restore is unfinished.
        case noUnfinishedRestore = "no_unfinished_restore"
        /// No such job, snapshot or object.
        case notFound = "not_found"
        /// A snapshot could not be taken, found or read.
        case snapshot
        /// Redis refused or did not answer.
        case redis
        /// The object store refused or did not answer.
        case storage
        /// Another dynokeeper of the ring could not be reached or refused a call.
        case peer
        /// The operation was cancelled (dynokeeper is shutting down).
        case cancelled
        /// Anything else.
        case failed
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }

    /// The code and message of any error dynokeeper meets, so that callers map codes, never types or messages.
    package init(_ error: any Error) {
        switch error {
        case let error as DynokeeperError: self = error
        case let error as NodeBusyError: self.init(.busy, error.description)
        case let error as UnfinishedRestoreError: self.init(.unfinishedRestore, error.description)
        case let error as NoUnfinishedRestoreError: self.init(.noUnfinishedRestore, error.description)
        case let error as ConfigurationError: self.init(.invalidConfiguration, error.description)
        // A missing object or bucket is the store's problem here: lookups that mean "no such snapshot" say so
        // themselves.
        case let error as ObjectStoreError: self.init(.storage, error.description)
        case let error as RedisError: self.init(.redis, error.description)
        case is CancellationError: self.init(.cancelled, "cancelled: dynokeeper was shutting down")
        default: self.init(.failed, "\(error)")
        }
    }
}

extension DynokeeperError {
    static func snapshot(_ message: String) -> DynokeeperError { DynokeeperError(.snapshot, message) }
}
