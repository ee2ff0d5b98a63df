import Foundation

extension DynokeeperConfiguration {
    /// The `encryption.*` keys: client-side encryption of the stored snapshots.
    package struct Encryption: Sendable, Equatable {
        /// The key new snapshots are encrypted with; snapshots are stored in clear when unset.
        package var keyFile: String?
        /// Keys that still decrypt older snapshots after a key change.
        package var previousKeyFiles: [String] = []

        package init(keyFile: String? = nil, previousKeyFiles: [String] = []) {
            self.keyFile = keyFile
            self.previousKeyFiles = previousKeyFiles
        }
    }
}

extension DynokeeperConfiguration.Encryption {
    /// Reads the `encryption.*` keys; the files themselves are read when a job needs them (and by `config check`).
    init(reading reader: inout TypedReader) throws {
        let keyFile = try reader.string("encryption.key_file", check: { $0.isEmpty ? "empty" : nil })
        let previous = try reader.strings("encryption.previous_key_files")
        if keyFile == nil && !previous.isEmpty {
            throw ConfigurationError(
                "encryption.previous_key_files is set without encryption.key_file: set the key new snapshots use too")
        }
        self.init(keyFile: keyFile, previousKeyFiles: previous)
    }
}
