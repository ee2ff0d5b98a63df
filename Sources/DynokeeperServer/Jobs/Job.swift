public import Foundation

/// A backup, restore or other operation the daemon runs, as the REST API shows it.
public struct Job: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case backup, restore, snapshot
    }

    public enum State: String, Sendable, Codable {
        case queued, running, succeeded, failed
    }

    public var id: String
    public var kind: Kind
    public var state: State
    /// What it is doing now, such as `upload dump.rdb`.
    public var step: String?
    /// Bytes moved so far and in all, for the transfer under way.
    public var progressBytes: Int64 = 0
    public var totalBytes: Int64 = 0
    /// What was asked for, such as `{"type": "rdb"}`.
    public var parameters: [String: String]
    /// What came out, such as the snapshot id.
    public var result: [String: String]?
    public var error: String?
    /// Who asked: `api`, `schedule`, `dynomite-manager`.
    public var trigger: String
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    /// Seconds from start to finish (or to now).
    public var durationSeconds: Double? {
        guard let startedAt else { return nil }
        return (finishedAt ?? Date()).timeIntervalSince(startedAt)
    }

    public var isFinished: Bool { state == .succeeded || state == .failed }
}
