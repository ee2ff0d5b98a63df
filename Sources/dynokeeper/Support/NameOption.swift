import ArgumentParser
import DynokeeperConfiguration

/// Checks a name given on the command line that becomes a store path (a cluster, datacenter or rack), as the
/// configuration and the API check theirs: no `..`, `/`, empty name or control characters.
func storeName(_ option: String) -> @Sendable (String) throws -> String {
    { name in
        if let problem = NodeSettings.nameProblem(name) {
            throw ValidationError("\(option) \(name.debugDescription): \(problem)")
        }
        return name
    }
}
