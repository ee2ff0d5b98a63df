import Foundation

/// Turns raw values into typed settings, recording each effective value and its origin; the helpers every
/// section's loading shares.
struct TypedReader {
    let raw: RawValues
    var effective: [(key: String, value: String, origin: ValueOrigin)] = []

    init(raw: RawValues) { self.raw = raw }

    private func fail(_ path: String, _ value: RawValue, _ detail: String? = nil) -> ConfigurationError {
        let expected = ConfigurationKeys.key(path)?.expected ?? "a valid value"
        let shown: String
        switch value.shape {
        case .list: shown = "a list"
        case .mapping: shown = "a mapping"
        case _ where ConfigurationKeys.key(path)?.secret == true: shown = "a value that is not shown (it is a secret)"
        default: shown = "\"\(value.text)\""
        }
        return ConfigurationError(
            "\(value.spelling ?? path) (\(value.origin)): expected \(expected), got \(shown)\(detail.map { ": \($0)" } ?? "")"
        )
    }

    /// A key as the user wrote it (Dynomite-manager's spelling of it, when that is how it was set), with where.
    func named(_ path: String) -> String {
        guard let value = raw[path] else { return path }
        return "\(value.spelling ?? path) (\(value.origin))"
    }

    /// The origin of a value derived from these keys (those that are set), as written.
    func alias(_ paths: [String]) -> ValueOrigin {
        .alias(of: paths.filter { raw[$0] != nil }.map(named))
    }

    /// Records a key's effective value (hidden when secret) for `config check`.
    mutating func record(_ path: String, _ shown: String?, _ origin: ValueOrigin) {
        let secret = ConfigurationKeys.key(path)?.secret ?? false
        // Dynomite-manager's own keys are shown as the user spelled them (dbsidecar.aws.…, DM_DYNO_…).
        let name = path.hasPrefix("dynomitemanager.") ? raw[path]?.spelling ?? path : path
        effective.append((name, shown.map { secret ? "<redacted>" : $0 } ?? "(not set)", origin))
    }

    private func scalar(_ path: String) throws -> RawValue? {
        guard let value = raw[path] else { return nil }
        guard value.shape == .scalar else { throw fail(path, value) }
        return value
    }

    mutating func string(
        _ path: String, default fallback: String? = nil, check: ((String) -> String?)? = nil
    ) throws -> String? {
        guard let value = try scalar(path) else {
            record(path, fallback, .defaultValue)
            return fallback
        }
        if let problem = check?(value.text) { throw fail(path, value, problem) }
        record(path, value.text, value.origin)
        return value.text
    }

    /// One of an enumeration's raw values; anything else is "unknown <what>".
    mutating func choice<Value: RawRepresentable<String>>(
        _ path: String, default fallback: Value, what: String
    ) throws -> Value {
        let text = try string(
            path, default: fallback.rawValue, check: { Value(rawValue: $0) == nil ? "unknown \(what)" : nil })
        return text.flatMap(Value.init(rawValue:)) ?? fallback
    }

    mutating func int(_ path: String, default fallback: Int? = nil, range: ClosedRange<Int>) throws -> Int? {
        guard let value = try scalar(path) else {
            record(path, fallback.map(String.init), .defaultValue)
            return fallback
        }
        guard let number = Int(value.text.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw fail(path, value)
        }
        record(path, String(number), value.origin)
        return number
    }

    /// A list of strings: a YAML list, or (from the environment) a comma-separated value.
    mutating func strings(_ path: String, check: ((String) -> String?)? = nil) throws -> [String] {
        guard let value = raw[path] else {
            record(path, nil, .defaultValue)
            return []
        }
        let items: [String]
        switch value.shape {
        case .list:
            guard let listed = value.items else { throw fail(path, value, "every item must be a single value") }
            items = listed
        case .scalar:
            items = value.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
        default:
            throw fail(path, value)
        }
        for item in items {
            if let problem = check?(item) { throw fail(path, value, "\(Self.redactingCredentials(item)): \(problem)") }
        }
        record(path, items.joined(separator: ", "), value.origin)
        return items
    }

    mutating func bool(_ path: String) throws -> (value: Bool, origin: ValueOrigin)? {
        guard let value = try scalar(path) else { return nil }
        switch value.text.lowercased() {
        case "true", "yes", "on": return (true, value.origin)
        case "false", "no", "off": return (false, value.origin)
        default: throw fail(path, value)
        }
    }

    mutating func parsed<T>(_ path: String, _ parse: (String) throws -> T) throws -> (value: T, origin: ValueOrigin)? {
        guard let value = try scalar(path) else { return nil }
        do {
            return (try parse(value.text), value.origin)
        } catch let error as ConfigurationError {
            throw fail(path, value, error.message)
        }
    }

    /// A setting that dynokeeper and Dynomite-manager both name: one or the other, or both agreeing.
    mutating func aliasedBool(_ native: String, _ alias: String) throws -> Bool {
        let mine = try bool(native)
        let theirs = try bool(alias)
        if let mine, let theirs, mine.value != theirs.value {
            throw ConfigurationError("\(native) (\(mine.origin)) and \(named(alias)) disagree: keep one")
        }
        let chosen = mine ?? theirs
        record(
            native, String(chosen?.value ?? false),
            chosen.map { mine != nil ? $0.origin : self.alias([alias]) } ?? .defaultValue)
        return chosen?.value ?? false
    }

    /// A URL with `user:password@` shown without them.
    static func redactingCredentials(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text }
        let authority = text[scheme.upperBound...].prefix { $0 != "/" }
        guard let at = authority.lastIndex(of: "@") else { return text }
        return String(text[..<scheme.upperBound]) + "<redacted>" + text[at...]
    }

    /// Names that become folders in the store: the cluster, datacenter and rack (also those of dynomite.yml).
    static func checkName(_ text: String) -> String? {
        let allowed = text.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "." || $0 == "_" || $0 == "-"
        }
        guard !text.isEmpty, allowed, text != ".", text != ".." else { return "it becomes a folder name in the store" }
        return nil
    }

    /// A node's tokens, from `node.tokens` or dynomite.yml.
    static func checkTokens(_ text: String) -> String? {
        let tokens = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !tokens.isEmpty, tokens.allSatisfy({ UInt32($0) != nil }) else {
            return "tokens are unsigned 32-bit integers"
        }
        return nil
    }
}
