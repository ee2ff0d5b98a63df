package import Foundation

/// A fresh folder under the system's temporary directory, removed by ``remove()``.
package struct TemporaryDirectory: Sendable {
    package let path: String

    /// - Parameter prefix: A word to recognise the folder by.
    package init(prefix: String = "dynokeeper") throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? NSTemporaryDirectory()
        path = (base as NSString).appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    package var url: URL { URL(fileURLWithPath: path) }

    package func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    package func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
