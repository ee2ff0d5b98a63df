public import DynokeeperConfiguration

/// Where snapshots live in the store: `<cluster>/<datacenter>/<rack>/<tokens>/<snapshot-id>/`, holding the
/// data files and, written last, `manifest.json`.
public enum SnapshotLayout {
    public static let manifestName = "manifest.json"

    /// The folder of every snapshot of one node.
    public static func nodePrefix(_ node: NodeIdentity) -> String {
        "\(node.cluster)/\(node.datacenter)/\(node.rack)/\(node.tokens)/"
    }

    /// The folder of one snapshot.
    public static func snapshotPrefix(_ node: NodeIdentity, _ id: SnapshotID) -> String {
        nodePrefix(node) + id.text + "/"
    }

    public static func manifestKey(_ node: NodeIdentity, _ id: SnapshotID) -> String {
        snapshotPrefix(node, id) + manifestName
    }
}
