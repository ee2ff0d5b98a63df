/// Where a configuration value came from, for messages and `config check`.
package enum ValueOrigin: Sendable, Equatable, CustomStringConvertible {
    case file(path: String, line: Int)
    case environment(variable: String)
    case defaultValue
    /// Derived from Dynomite-manager properties.
    case alias(of: [String])

    var isEnvironment: Bool {
        if case .environment = self { return true }
        return false
    }

    package var description: String {
        switch self {
        case .file(let path, let line): return "\(path) line \(line)"
        case .environment(let variable): return "environment variable \(variable)"
        case .defaultValue: return "default"
        case .alias(let keys): return "from \(keys.joined(separator: ", "))"
        }
    }
}
