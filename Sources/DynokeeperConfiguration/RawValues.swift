import Foundation
import Yams

/// A configuration value before it is typed: its text (scalars only) and where it came from.
struct RawValue: Sendable {
    enum Shape: Sendable { case scalar, list, mapping, null }

    var text: String
    var shape: Shape
    var origin: ValueOrigin
    /// Whether the YAML scalar was quoted (so `"yes"` stays a string).
    var quoted: Bool = false
    /// The items of a list of scalars (`nil` when an item is not a scalar).
    var items: [String]? = nil
    /// The key as it was written, when it is another spelling (Dynomite-manager's) of the key it is read as.
    var spelling: String? = nil

    /// Whether two values say the same.
    func agrees(with other: RawValue) -> Bool { shape == other.shape && text == other.text && items == other.items }
}

/// The raw values of a configuration: from the file, overridden by the environment.
struct RawValues: Sendable {
    private(set) var values: [String: RawValue] = [:]

    subscript(path: String) -> RawValue? {
        guard let value = values[path], value.shape != .null else { return nil }
        return value
    }

    /// Whether any of Dynomite-manager's names is set (its files and variables then mean its defaults, such as its
    /// bucket, where dynokeeper's own would differ).
    var namesDynomiteManager: Bool {
        values.contains { $0.value.spelling != nil || $0.key.hasPrefix("dynomitemanager.") }
    }

    /// Whether one of Dynomite-manager's v2 names (`dbsidecar.*`) is set.
    var namesDynomiteManagerV2: Bool { values.values.contains { $0.spelling?.hasPrefix("dbsidecar.") == true } }

    /// Reads a YAML file; nested mappings become dotted paths, so `storage: {url: …}` and a flat
    /// `dynomitemanager.dyno.backup.hour: 3` are both understood.
    static func parse(yaml: String, path: String) throws -> RawValues {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationError("\(path) is not valid YAML: \(describe(error, in: yaml))")
        }
        var raw = RawValues()
        guard let root else { return raw }  // an empty file
        guard case .mapping(let mapping) = root else {
            throw ConfigurationError("\(path) must be a mapping of keys to values (line \(root.mark?.line ?? 1))")
        }
        try raw.flatten(mapping, prefix: "", path: path)
        return raw
    }

    /// A YAML error by its place and problem only: Yams's own description quotes the lines around it, which may
    /// hold the bearer token or another secret.
    static func describe(_ error: YamlError, in yaml: String) -> String {
        func place(_ mark: Mark) -> String { "line \(mark.line), column \(mark.column)" }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return "\(place(mark)): \(problem)" + (context.map { " (\($0.text), \(place($0.mark)))" } ?? "")
        case .reader(let problem, let offset, _, _):
            guard let offset else { return problem }
            let before = yaml.utf8.prefix(offset)
            let line = before.count { $0 == UInt8(ascii: "\n") } + 1
            return "line \(line): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "\(place(context.mark)): keys set twice: \(duplicates.sorted().joined(separator: ", "))"
        default:
            return "the YAML cannot be read"
        }
    }

    private mutating func flatten(_ mapping: Node.Mapping, prefix: String, path file: String) throws {
        for (keyNode, valueNode) in mapping {
            let line = keyNode.mark?.line ?? 0
            guard let key = keyNode.string, !key.isEmpty else {
                throw ConfigurationError("\(file) line \(line): keys must be text")
            }
            let path = prefix.isEmpty ? key : prefix + "." + key
            let origin = ValueOrigin.file(path: file, line: line)
            switch valueNode {
            case .mapping(let nested) where ConfigurationKeys.key(path) == nil:
                guard ConfigurationKeys.hasKeys(under: path) else {
                    throw Self.unknown(path, origin: origin)
                }
                try flatten(nested, prefix: path, path: file)
            case .mapping:
                try set(path, RawValue(text: "", shape: .mapping, origin: origin))
            case .sequence(let sequence):
                let items = sequence.map { $0.scalar?.string }
                try set(
                    path,
                    RawValue(
                        text: "", shape: .list, origin: origin,
                        items: items.contains(nil) ? nil : items.compactMap { $0 }))
            case .scalar(let scalar):
                let isNull = scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
                try set(
                    path,
                    RawValue(
                        text: scalar.string, shape: isNull ? .null : .scalar, origin: origin,
                        quoted: scalar.style == .singleQuoted || scalar.style == .doubleQuoted))
            case .alias:
                throw ConfigurationError("\(file) line \(line): YAML aliases are not supported (\(path))")
            }
        }
    }

    /// Sets a key (read under its canonical name); two spellings of one setting must agree.
    /// - Parameter override: The environment: it replaces what the files say, but two of its own spellings must
    ///   agree too.
    mutating func set(_ path: String, _ value: RawValue, override: Bool = false) throws {
        if DynomiteManagerKeys.unused.contains(path) { return noteUnused(path) }
        let canonical = DynomiteManagerKeys.canonical(path)
        guard ConfigurationKeys.key(canonical) != nil else { throw Self.unknown(path, origin: value.origin) }
        var value = value
        if canonical != path { value.spelling = path }
        if let existing = values[canonical] {
            let first = existing.spelling ?? canonical
            let second = value.spelling ?? canonical
            if first == second {
                // The environment replaces what the files say under the same name; under another name it must agree.
                if override { values[canonical] = value; return }
                // The same key in the YAML file and the .properties file: fine when they agree.
                if existing.agrees(with: value) { return }
                throw ConfigurationError(
                    "\(path) is set twice, differently: at \(existing.origin) and at \(value.origin)")
            }
            guard existing.agrees(with: value) else {
                throw ConfigurationError(
                    "\(first) (\(existing.origin)) and \(second) (\(value.origin)) are two spellings of one setting and disagree: keep one"
                )
            }
            return
        }
        values[canonical] = value
    }

    /// Dynomite-manager's names that dynokeeper does not use, as `config check` lists them.
    private(set) var unused: [String] = []

    private mutating func noteUnused(_ path: String) {
        if !unused.contains(path) { unused.append(path) }
    }

    static func unknown(_ path: String, origin: ValueOrigin) -> ConfigurationError {
        var message = "unknown configuration key \(path) (\(origin))"
        if let suggestion = ConfigurationKeys.suggestion(for: path) { message += "; did you mean \(suggestion)?" }
        return ConfigurationError(message)
    }

    /// Applies environment variables: `DYNOKEEPER_<KEY>` for dynokeeper's keys, the property name (or its
    /// upper-case form) for Dynomite-manager's. Unknown `DYNOKEEPER_` variables are errors.
    mutating func applyEnvironment(_ environment: [String: String]) throws {
        for key in ConfigurationKeys.native {
            if let value = environment[key.environmentVariable] {
                let raw = RawValue(
                    text: value, shape: value.isEmpty ? .null : .scalar,
                    origin: .environment(variable: key.environmentVariable))
                // It replaces the file's value under dynokeeper's name; under one of Dynomite-manager's it must agree.
                if let existing = values[key.path], let spelling = existing.spelling, !existing.agrees(with: raw) {
                    throw ConfigurationError(
                        "\(spelling) (\(existing.origin)) and \(raw.origin) are two spellings of one setting and disagree: keep one"
                    )
                }
                values[key.path] = raw
            }
        }
        let spellings =
            ConfigurationKeys.dynomiteManager.map(\.path) + DynomiteManagerKeys.spellings.keys.sorted()
            + DynomiteManagerKeys.unused.sorted()
        var knownVariables: Set<String> = []
        for spelling in spellings {
            let variables = DynomiteManagerKeys.environmentVariables(spelling)
            let given = variables.filter { environment[$0] != nil }
            // The property name and its upper-case form are two spellings too: they must agree.
            if given.count > 1, Set(given.map { environment[$0]! }).count > 1 {
                throw ConfigurationError(
                    "environment variables \(given.joined(separator: " and ")) are two spellings of one setting and disagree: keep one"
                )
            }
            for variable in variables {
                knownVariables.insert(variable)
                if let value = environment[variable] {
                    try set(
                        spelling,
                        RawValue(
                            text: value, shape: value.isEmpty ? .null : .scalar,
                            origin: .environment(variable: variable)
                        ), override: true)
                }
            }
        }
        // A mistyped Dynomite-manager variable would otherwise be ignored without a word.
        let prefixes =
            DynomiteManagerKeys.backupPrefixes + ["florida.dyno.persistence."]
        let upperPrefixes = prefixes.map(DynomiteManagerKeys.upperCased)
        for variable in environment.keys.sorted() where !knownVariables.contains(variable) {
            if prefixes.contains(where: { variable.hasPrefix($0) })
                || upperPrefixes.contains(where: { variable.hasPrefix($0) })
            {
                throw ConfigurationError(
                    "unknown environment variable \(variable): it lies under one of Dynomite-manager's prefixes, and dynokeeper knows no such setting (see the README's Coming from Dynomite-manager)"
                )
            }
        }
        // DYNOKEEPER_TEST_KILL_AT is the tests' crash hook (see the engine's CrashPoint), not a setting.
        let known = Set(
            ConfigurationKeys.native.map(\.environmentVariable) + ["DYNOKEEPER_CONFIG", "DYNOKEEPER_TEST_KILL_AT"])
        for variable in environment.keys.sorted() where variable.hasPrefix("DYNOKEEPER_") && !known.contains(variable) {
            var message = "unknown environment variable \(variable)"
            let path = variable.dropFirst("DYNOKEEPER_".count).lowercased()
            if let suggestion = ConfigurationKeys.suggestion(for: path.replacingOccurrences(of: "_", with: ".")),
                let key = ConfigurationKeys.key(suggestion), key.environmentVariable != variable
            {
                message += "; did you mean \(key.environmentVariable)?"
            }
            throw ConfigurationError(message)
        }
    }

    /// Reads a Dynomite-manager `.properties` file (`config.dynomite_manager_properties`) as one more source of its
    /// names: what it sets must agree with the YAML file, the environment overrides it, and an unknown name under
    /// one of Dynomite-manager's prefixes is an error.
    /// - Returns: The properties dynokeeper does not use (Dynomite-manager's other settings), for `config check`.
    mutating func mergeDynomiteManagerProperties(_ file: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigurationError("config.dynomite_manager_properties: cannot read \(file)")
        }
        let text = String(decoding: data, as: UTF8.self)
        var ignored: [String] = []
        // As java.util.Properties reads it: a key given twice takes its last value.
        let entries = JavaProperties.parse(text).entries
        let last = Dictionary(entries.enumerated().map { ($0.element.key, $0.offset) }) { _, later in later }
        for (index, entry) in entries.enumerated() where last[entry.key] == index {
            let origin = ValueOrigin.file(path: file, line: entry.line)
            let canonical = DynomiteManagerKeys.canonical(entry.key)
            if DynomiteManagerKeys.unused.contains(entry.key) {
                noteUnused(entry.key)
                continue
            }
            guard DynomiteManagerKeys.isDynomiteManagerName(entry.key) else {
                if DynomiteManagerKeys.isUnderDynomiteManagerPrefix(entry.key) {
                    throw Self.unknown(entry.key, origin: origin)
                }
                ignored.append(entry.key)
                continue
            }
            if let existing = values[canonical], existing.origin.isEnvironment,
                (existing.spelling ?? canonical) == entry.key
            {
                continue  // the same name in the environment overrides the file
            }
            try set(
                entry.key,
                RawValue(text: entry.value, shape: entry.value.isEmpty ? .null : .scalar, origin: origin))
        }
        // Dynomite-manager's default persistence is AOF: what its file means when it does not say.
        if values["backup.type"] == nil {
            values["backup.type"] = RawValue(
                text: "aof", shape: .scalar,
                origin: .alias(of: [
                    "Dynomite-manager's default persistence (florida.dyno.persistence.type unset in \(file))"
                ]))
        }
        return ignored
    }
}
