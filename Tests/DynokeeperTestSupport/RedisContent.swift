import RedisClient

/// Every key of a Redis server, with its value read by type (sets and hashes in sorted order) and whether
/// it expires, to compare two servers key by key.
package struct RedisContent: Equatable, CustomStringConvertible, Sendable {
    package struct Entry: Equatable, Sendable {
        var type: String
        var value: [String]
        /// Milliseconds to live, or `nil` for keys that do not expire.
        var ttl: Int64?

        /// TTLs count down while backups and restores run (a test that restores forty times under a loaded
        /// machine takes minutes): equal within ten minutes, far less than the test data's TTLs (2 and 24 hours),
        /// so a TTL lost or set anew still shows.
        package static func == (lhs: Entry, rhs: Entry) -> Bool {
            guard lhs.type == rhs.type, lhs.value == rhs.value else { return false }
            switch (lhs.ttl, rhs.ttl) {
            case (nil, nil): return true
            case (let a?, let b?): return abs(a - b) <= 600_000
            default: return false
            }
        }
    }

    package var databases: [Int: [String: Entry]]

    /// Reads every key of the server on a loopback port. A connection that closes under the read is tried again
    /// (twice): on the loaded CI machine a few reads saw their connection closed while the server kept running; a
    /// server that is gone still fails (it refuses the next connection).
    package static func read(port: Int) async throws -> RedisContent {
        for attempt in 1...3 {
            do {
                return try await RedisConnection.withConnection(to: RedisAddress(host: "127.0.0.1", port: port)) {
                    redis in try await read(from: redis)
                }
            } catch RedisError.connectionClosed where attempt < 3 {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        throw RedisError.connectionClosed(command: "reading every key")
    }

    static func read(from redis: RedisConnection) async throws -> RedisContent {
        var databases: [Int: [String: Entry]] = [:]
        for database in try await redis.info("keyspace").keyspace.keys {
            try await redis.select(database)
            var cursor = "0"
            var entries: [String: Entry] = [:]
            repeat {
                let answer = try await redis.send(["SCAN", cursor, "COUNT", "1000"]).array ?? []
                cursor = answer.first?.string ?? "0"
                let keys = answer.last?.array?.compactMap(\.string) ?? []
                guard !keys.isEmpty else { continue }
                // Two pipelined rounds per batch: types and expiries, then values.
                let heads = try await redis.sendPipelined(keys.flatMap { [["TYPE", $0], ["PTTL", $0]] })
                var reads: [[String]] = []
                var sortedValues: [Bool] = []
                for (index, key) in keys.enumerated() {
                    switch heads[2 * index].string ?? "?" {
                    case "string": reads.append(["GET", key]); sortedValues.append(false)
                    case "hash": reads.append(["HGETALL", key]); sortedValues.append(true)
                    case "list": reads.append(["LRANGE", key, "0", "-1"]); sortedValues.append(false)
                    case "set": reads.append(["SMEMBERS", key]); sortedValues.append(true)
                    case "zset": reads.append(["ZRANGE", key, "0", "-1", "WITHSCORES"]); sortedValues.append(false)
                    case "stream": reads.append(["XRANGE", key, "-", "+"]); sortedValues.append(false)
                    default: reads.append(["DUMP", key]); sortedValues.append(false)
                    }
                }
                let values = try await redis.sendPipelined(reads)
                for (index, key) in keys.enumerated() {
                    var value = Self.flatten(values[index])
                    if sortedValues[index] { value.sort() }
                    let ttl = heads[2 * index + 1].integer ?? -1
                    entries[key] = Entry(type: heads[2 * index].string ?? "?", value: value, ttl: ttl > 0 ? ttl : nil)
                }
            } while cursor != "0"
            databases[database] = entries
        }
        return RedisContent(databases: databases)
    }

    static func flatten(_ value: RESPValue) -> [String] {
        switch value {
        case .array(let values?): return values.flatMap(flatten)
        default: return [value.description]
        }
    }

    package var keyCount: Int { databases.values.reduce(0) { $0 + $1.count } }

    /// The keys whose value or expiry differ from another server's, for messages.
    package func differences(from other: RedisContent) -> [String] {
        var result: [String] = []
        for (database, entries) in databases {
            let theirs = other.databases[database] ?? [:]
            for (key, entry) in entries where theirs[key] != entry {
                result.append("db\(database):\(key) \(entry) vs \(theirs[key].map { "\($0)" } ?? "missing")")
            }
        }
        return result.sorted()
    }

    package var description: String { databases.map { "db\($0.key): \($0.value.count) keys" }.joined(separator: ", ") }
}
