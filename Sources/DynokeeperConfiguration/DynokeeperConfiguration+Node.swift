extension DynokeeperConfiguration.Node {
    /// Reads the `node.*` keys.
    init(reading reader: inout TypedReader) throws {
        self.init(
            dynomiteYAML: try reader.string("node.dynomite_yaml"),
            datacenter: try reader.string("node.datacenter", check: TypedReader.checkName),
            rack: try reader.string("node.rack", check: TypedReader.checkName),
            tokens: try reader.string("node.tokens", check: TypedReader.checkTokens),
            stateDir: try reader.string("node.state_dir", check: { $0.hasPrefix("/") ? nil : "use an absolute path" }),
            commandEnvironment: try reader.strings(
                "node.command_environment",
                check: { name in
                    guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
                    else {
                        return "an environment variable name"
                    }
                    return nil
                }))
    }
}
