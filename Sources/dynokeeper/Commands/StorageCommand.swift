import ArgumentParser
import DynokeeperEngine
import Foundation
import NIOCore
import ObjectStorage

struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Work with the object store.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write, read back, list and delete a probe object to prove the store works with these settings.")

        @OptionGroup var options: GlobalOptions

        @Option(help: "Size of the probe object in MiB (above the part size, it goes through multipart upload).")
        var sizeMB: Int = 1

        func run() async throws {
            try await reportingErrors {
                let (configuration, logger) = try options.load()
                guard (0...1024).contains(sizeMB) else { throw ValidationError("--size-mb must be from 0 to 1024") }
                let store = try StoreFactory.makeStore(
                    configuration.storage, environment: ProcessInfo.processInfo.environment, logger: logger)
                do {
                    try await StorageProbe(store: store).run(bytes: sizeMB << 20) { print($0) }
                } catch {
                    try? await store.shutdown()
                    throw error
                }
                try await store.shutdown()
            }
        }
    }
}
