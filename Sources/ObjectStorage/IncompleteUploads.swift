package import Foundation

/// An upload that never finished: an S3 multipart upload that was neither completed nor aborted (its parts are
/// billed until it is), or a local store's temporary file. A process killed in the middle of a put leaves one.
package struct IncompleteUpload: Sendable, Equatable {
    /// The key the upload was for.
    package var key: String
    /// What identifies it to the store (the S3 upload id, the temporary file's name).
    package var id: String
    /// When it was started (or last written to).
    package var started: Date?

    package init(key: String, id: String, started: Date?) {
        self.key = key
        self.id = id
        self.started = started
    }
}

/// A store that can list and remove the uploads that never finished under its root.
package protocol IncompleteUploadCleaning: ObjectStore {
    /// The incomplete uploads whose keys start with `prefix`.
    func incompleteUploads(prefix: String) async throws -> [IncompleteUpload]
    /// Aborts one (its parts or its temporary file are removed).
    func abort(_ upload: IncompleteUpload) async throws
}
