/// The answer to `INFO`: `key:value` lines grouped in `# Section`s.
package struct RedisInfo: Sendable, Equatable {
    /// Every field, whatever its section.
    package var fields: [String: String]

    /// Key counts of one database, from the `Keyspace` section (`db0:keys=10,expires=2,avg_ttl=0`).
    package struct Keyspace: Sendable, Equatable, Codable {
        package var keys: Int
        package var expires: Int

        package init(keys: Int, expires: Int) {
            self.keys = keys
            self.expires = expires
        }
    }

    package init(parsing text: String) {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        self.fields = fields
    }

    package subscript(_ key: String) -> String? { fields[key] }

    /// An integer field.
    package func int(_ key: String) -> Int? { fields[key].flatMap { Int($0) } }

    /// The key counts of each non-empty database, by number.
    package var keyspace: [Int: Keyspace] {
        var result: [Int: Keyspace] = [:]
        for (key, value) in fields where key.hasPrefix("db") {
            guard let number = Int(key.dropFirst(2)) else { continue }
            var parts: [String: Int] = [:]
            for pair in value.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, let number = Int(kv[1]) { parts[String(kv[0])] = number }
            }
            if let keys = parts["keys"] { result[number] = Keyspace(keys: keys, expires: parts["expires"] ?? 0) }
        }
        return result
    }

    package var version: String? { fields["redis_version"] }
}
