package import DynokeeperConfiguration

/// Where snapshots live in the store: `<cluster>/<datacenter>/<rack>/<tokens>/<snapshot-id>/`, holding the
/// data files and, written last, `manifest.json`.
package enum SnapshotLayout {
    package static let manifestName = "manifest.json"

    /// The folder of every snapshot of one node.
    package static func nodePrefix(_ node: NodeIdentity) -> String {
        "\(node.cluster)/\(node.datacenter)/\(node.rack)/\(node.tokens)/"
    }

    /// The folder of one snapshot.
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
