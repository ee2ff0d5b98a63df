/// dynokeeper's version, recorded in every manifest.
package enum DynokeeperVersion {
    package static let current = "0.1.0"
}
