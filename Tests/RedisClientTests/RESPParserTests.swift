import NIOCore
import RedisClient
import Testing

@Suite struct RESPParserTests {
    static func parseAll(_ text: String) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try RESPParser().parse(&buffer) { values.append(value) }
        #expect(buffer.readableBytes == 0, "left over: \(String(buffer: buffer))")
        return values
    }

    @Test func everyType() throws {
        let values = try Self.parseAll("+OK\r\n-ERR wrong\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n")
        #expect(
            values == [
                .simpleString("OK"), .error("ERR wrong"), .integer(-42), .bulkString(ByteBuffer(string: "he\r\no")),
                .bulkString(nil), .array(nil), .array([]), .bulkString(ByteBuffer()),
            ])
    }

    @Test func nestedArrays() throws {
        let values = try Self.parseAll("*2\r\n*2\r\n:1\r\n$1\r\na\r\n*1\r\n+x\r\n")
        #expect(
            values == [
                .array([.array([.integer(1), .bulkString(ByteBuffer(string: "a"))]), .array([.simpleString("x")])])
            ])
    }

    @Test func valuesArrivingByteByByteAreHeldUntilComplete() throws {
        let wire = Array("*3\r\n$3\r\nSET\r\n:12\r\n$-1\r\n+PONG\r\n".utf8)
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        let parser = RESPParser()
        for byte in wire {
            buffer.writeInteger(byte)
            while let value = try parser.parse(&buffer) { values.append(value) }
        }
        #expect(
            values == [
                .array([.bulkString(ByteBuffer(string: "SET")), .integer(12), .bulkString(nil)]), .simpleString("PONG"),
            ])
    }

    @Test(arguments: [
        ("?what\r\n", "unexpected type byte"),
        (":12a\r\n", "is not a number"),
        ("$abc\r\n", "is not a number"),
        ("$3\r\nabcXY", "not followed by CRLF"),
        ("$-5\r\n", "bulk string length -5"),
        ("*-2\r\n", "array length -2"),
        ("+OK\rX", "CR not followed by LF"),
        ("$600000000\r\n", "larger than"),
    ])
    func malformedRepliesAreErrors(wire: String, expected: String) {
        var buffer = ByteBuffer(string: wire)
        let error = #expect(throws: RESPError.self) { _ = try RESPParser().parse(&buffer) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }

    @Test func nestingIsBounded() {
        var buffer = ByteBuffer(string: String(repeating: "*1\r\n", count: 40) + ":1\r\n")
        #expect(throws: RESPError.self) { _ = try RESPParser().parse(&buffer) }
    }

    @Test func commandsAreEncodedAsBulkStringArrays() {
        var buffer = ByteBuffer()
        RESPEncoder.encode(["SET", "k é", ""], into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$4\r\nk é\r\n$0\r\n\r\n")
    }

    @Test func infoIsParsedWithItsKeyspace() {
        let info = RedisInfo(
            parsing:
                "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=3\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
        )
        #expect(info.version == "7.0.15")
        #expect(info.keyspace == [0: .init(keys: 10, expires: 2), 3: .init(keys: 1, expires: 0)])
        #expect(info.int("redis_version") == nil)
    }
}
