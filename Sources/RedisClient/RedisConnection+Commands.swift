import NIOCore

/// The commands dynokeeper uses, with their answers typed.
extension RedisConnection {
    /// `PING`; fails unless Redis answers `PONG`.
    package func ping() async throws {
        let answer = try await send(["PING"])
        guard answer.string == "PONG" else { throw RedisError.unexpectedReply(command: "PING", reply: "\(answer)") }
    }

    /// `INFO`, all sections or one.
    package func info(_ section: String? = nil) async throws -> RedisInfo {
        let command = ["INFO"] + (section.map { [$0] } ?? [])
        let answer = try await send(command)
        guard let text = answer.string else { throw RedisError.unexpectedReply(command: "INFO", reply: "\(answer)") }
        return RedisInfo(parsing: text)
    }

    /// `CONFIG GET name`: the value, or `nil` when this Redis has no such parameter.
    package func configGet(_ name: String) async throws -> String? {
        let answer = try await send(["CONFIG", "GET", name])
        guard let values = answer.array else {
            throw RedisError.unexpectedReply(command: "CONFIG GET", reply: "\(answer)")
        }
        var index = 0
        while index + 1 < values.count {
            if values[index].string == name { return values[index + 1].string }
            index += 2
        }
        return nil
    }

    /// `LASTSAVE`: when the last successful save finished, in seconds since 1970.
    package func lastSave() async throws -> Int64 {
        let answer = try await send(["LASTSAVE"])
        guard let value = answer.integer else {
            throw RedisError.unexpectedReply(command: "LASTSAVE", reply: "\(answer)")
        }
        return value
    }

    /// `DBSIZE` of the selected database.
    package func dbSize() async throws -> Int {
        let answer = try await send(["DBSIZE"])
        guard let value = answer.integer else {
            throw RedisError.unexpectedReply(command: "DBSIZE", reply: "\(answer)")
        }
        return Int(value)
    }

    /// `SELECT db`.
    package func select(_ database: Int) async throws {
        try await send(["SELECT", String(database)])
    }

    /// `SHUTDOWN [NOSAVE|SAVE]`. Redis closes the connection when it stops, which is the success case.
    /// - Parameter save: `false` for `NOSAVE` (never write the dataset), `true` for `SAVE`, `nil` for Redis's
    ///   own choice.
    package func shutdown(save: Bool?) async throws {
        var command = ["SHUTDOWN"]
        if let save { command.append(save ? "SAVE" : "NOSAVE") }
        do {
            try await send(command)
        } catch RedisError.connectionClosed {
            return
        }
    }
}
