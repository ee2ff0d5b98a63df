/// Pairs every node of the target ring with the node of the source ring whose data it gets: same datacenter,
/// rack and tokens; when the two clusters name their datacenters or racks differently, datacenters in sorted
/// order (the first with the first), racks in sorted order within them, or as an explicit mapping says.
package enum RingMapping {
    /// A node's place in a ring.
    package struct Place: Sendable, Hashable, CustomStringConvertible {
        package var datacenter: String
        package var rack: String
        package var tokens: String

        package init(datacenter: String, rack: String, tokens: String) {
            self.datacenter = datacenter
            self.rack = rack
            self.tokens = tokens
        }

        package var description: String { "\(datacenter)/\(rack)/\(tokens)" }
    }

    /// - Parameters:
    ///   - targets: The nodes to restore.
    ///   - sources: The nodes of the ring snapshot.
    ///   - explicit: `target datacenter/rack` → `source datacenter/rack`, for the racks it names.
    /// - Returns: Each target with its source.
    /// - Throws: ``DynokeeperError`` naming the target nodes that have no source, before anything is stopped.
    package static func map(
        targets: [Place], sources: [Place], explicit: [String: String] = [:]
    ) throws -> [Place: Place] {
        let sourceSet = Set(sources)
        let targetRacks = racks(targets)
        let sourceRacks = racks(sources)
        // Racks by sorted order: datacenters paired in order, then racks within each pair in order.
        var rackMap: [String: String] = [:]
        let targetDCs = Array(Set(targets.map(\.datacenter))).sorted()
        let sourceDCs = Array(Set(sources.map(\.datacenter))).sorted()
        for (targetDC, sourceDC) in zip(targetDCs, sourceDCs) {
            let targetInDC = targetRacks.filter { $0.hasPrefix(targetDC + "/") }
            let sourceInDC = sourceRacks.filter { $0.hasPrefix(sourceDC + "/") }
            for (target, source) in zip(targetInDC, sourceInDC) { rackMap[target] = source }
        }
        for (target, source) in explicit {
            guard sourceRacks.contains(source) else {
                throw DynokeeperError.snapshot(
                    "the mapping names source rack \(source), which the ring snapshot does not have (it has \(sourceRacks.joined(separator: ", ")))"
                )
            }
            rackMap[target] = source
        }
        var result: [Place: Place] = [:]
        var missing: [String] = []
        for target in targets {
            // The same names first, then the mapping.
            if sourceSet.contains(target) && explicit["\(target.datacenter)/\(target.rack)"] == nil {
                result[target] = target
                continue
            }
            guard let rack = rackMap["\(target.datacenter)/\(target.rack)"] else {
                missing.append("\(target) (no source rack)")
                continue
            }
            let parts = rack.split(separator: "/", maxSplits: 1).map(String.init)
            let source = Place(datacenter: parts[0], rack: parts[1], tokens: target.tokens)
            guard sourceSet.contains(source) else {
                missing.append("\(target) (no token \(target.tokens) in source rack \(rack))")
                continue
            }
            result[target] = source
        }
        guard missing.isEmpty else {
            throw DynokeeperError.snapshot(
                "the ring snapshot does not cover every node: \(missing.sorted().joined(separator: "; ")); nothing was stopped"
            )
        }
        return result
    }

    static func racks(_ places: [Place]) -> [String] {
        Array(Set(places.map { "\($0.datacenter)/\($0.rack)" })).sorted()
    }
}
