package import DynokeeperConfiguration
package import Foundation

/// Where snapshots live in the store: `<cluster>/<datacenter>/<rack>/<tokens>/<snapshot-id>/`, holding the
/// data files and, written last, `manifest.json`.
package enum SnapshotLayout {
    package static let manifestName = "manifest.json"

    /// The folder of every snapshot of one node.
    package static func nodePrefix(_ node: NodeIdentity) -> String {
        "\(node.cluster)/\(node.datacenter)/\(node.rack)/\(node.tokens)/"
    }

    /// The folder of one snapshot.
    /// Dynomite-manager's folder of a node's daily objects: `<dc>/<rack>/<token>/` under the store's root (its base_dir).
    package static func dynomiteManagerPrefix(_ node: NodeIdentity) -> String {
        "\(node.datacenter)/\(node.rack)/\(node.tokens)/"
    }

    /// Dynomite-manager's object of a node for the day of `date`: named by the epoch milliseconds of that day's
    /// midnight in `timeZone` (`restore.timezone`: Dynomite-manager used its JVM's).
    package static func dynomiteManagerKey(
        _ node: NodeIdentity, day date: Date, timeZone: TimeZone = TimeZone(identifier: "UTC")!
    ) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let midnight = calendar.startOfDay(for: date)
        return dynomiteManagerPrefix(node) + String(Int64(midnight.timeIntervalSince1970 * 1000))
    }

    package static func snapshotPrefix(_ node: NodeIdentity, _ id: SnapshotID) -> String {
        nodePrefix(node) + id.text + "/"
    }

    package static func manifestKey(_ node: NodeIdentity, _ id: SnapshotID) -> String {
        snapshotPrefix(node, id) + manifestName
    }

    /// The snapshot folder (`<cluster>/<dc>/<rack>/<tokens>/<id>/`) a key lies in, with the snapshot's id; `nil`
    /// for keys outside the layout.
    package static func snapshotFolder(containing key: String) -> (prefix: String, id: SnapshotID)? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 6, !parts[0...3].contains(where: \.isEmpty), let id = SnapshotID(String(parts[4])) else {
            return nil
        }
        return (parts[0...4].joined(separator: "/") + "/", id)
    }
}
