/// dynokeeper's version, recorded in every manifest.
public enum DynokeeperVersion {
    public static let current = "0.1.0"
}
