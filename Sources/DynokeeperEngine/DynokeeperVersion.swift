/// dynokeeper's version, recorded in every manifest (0.2: the typed API contracts, contract 2).
package enum DynokeeperVersion {
    package static let current = "0.2.0"
}
