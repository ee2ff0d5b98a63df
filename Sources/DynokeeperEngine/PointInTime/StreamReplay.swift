import DynokeeperConfiguration
import Foundation
import Logging
import NIOCore
import RedisClient

/// Applies archived commands to a Redis that holds a base snapshot: those after the base's offset, up to the
/// target's, in order, pipelined, each answer checked (Redis accepted them once; an error now means the data
/// differs from what the stream was recorded against, and the restore fails).
struct StreamReplay {
    let connector: RedisConnector
    let logger: Logger

    struct Outcome: Sendable {
        var commands = 0
        var bytes: Int64 = 0
    }

    /// - Parameters:
    ///   - segments: The plan's segments, read and checked, in order.
    ///   - baseOffset: The base snapshot's offset: commands up to it are in the data already.
    ///   - targetOffset: The offset after the last command to apply.
    func run(_ segments: [StreamSegment], after baseOffset: Int64, upTo targetOffset: Int64) async throws -> Outcome {
        // The database selected at the base's offset: the stream only says when it changes.
        var db = segments.first?.startDB
        for segment in segments {
            for record in segment.records where record.offset <= baseOffset {
                if let selected = StreamArchiver.selectedDatabase(record.command) { db = selected }
            }
        }
        var outcome = Outcome()
        try await connector.withConnection(commandTimeout: .seconds(600)) { redis in
            if let db { try await redis.send(["SELECT", String(db)]) }
            var batch = ByteBuffer()
            var names: [String] = []
            func flush() async throws {
                guard !names.isEmpty else { return }
                let answers = try await redis.sendEncoded(batch, count: names.count)
                for (index, answer) in answers.enumerated() {
                    if case .error(let message) = answer {
                        throw DynokeeperError.snapshot(
                            "replaying the archived stream, Redis refused \(names[index].uppercased()) (command \(outcome.commands - names.count + index + 1)): \(message)"
                        )
                    }
                }
                batch.clear()
                names.removeAll(keepingCapacity: true)
            }
            for segment in segments {
                for record in segment.records where record.offset > baseOffset && record.offset <= targetOffset {
                    let name = Self.name(record.command)
                    // The link's own traffic: acknowledgements asked of replicas, and keep-alive pings.
                    if name == "replconf" || name == "ping" { continue }
                    var command = record.command
                    batch.writeBuffer(&command)
                    names.append(name)
                    outcome.commands += 1
                    outcome.bytes += Int64(record.command.readableBytes)
                    if batch.readableBytes >= 1 << 20 || names.count >= 4096 { try await flush() }
                }
            }
            try await flush()
        }
        return outcome
    }

    /// The lower-cased name of a RESP command (its first bulk string).
    static func name(_ raw: ByteBuffer) -> String {
        let bytes = raw.readableBytesView
        // *<n>\r\n$<len>\r\n<name>\r\n
        guard let first = bytes.firstIndex(of: UInt8(ascii: "\n")),
            let dollarLineEnd = bytes[(first + 1)...].firstIndex(of: UInt8(ascii: "\n")),
            let length = Int(String(decoding: bytes[(first + 2)..<(dollarLineEnd - 1)], as: UTF8.self)),
            dollarLineEnd + 1 + length <= bytes.endIndex
        else { return "" }
        return String(decoding: bytes[(dollarLineEnd + 1)..<(dollarLineEnd + 1 + length)], as: UTF8.self).lowercased()
    }
}
