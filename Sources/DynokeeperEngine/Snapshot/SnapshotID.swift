public import Foundation

/// A snapshot's id: the UTC time its backup started, as `20261124T020000Z`, which sorts in time order.
public struct SnapshotID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let text: String
    public let date: Date

    private static let style = Date.ISO8601FormatStyle(dateSeparator: .omitted, timeSeparator: .omitted)

    /// The id of a backup starting at `date` (whole seconds).
    public init(date: Date) {
        let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        self.date = whole
        self.text = whole.formatted(Self.style)
    }

    /// Parses an id; `nil` if the text is not one.
    public init?(_ text: String) {
        guard text.utf8.count == 16, let date = try? Date(text, strategy: Self.style) else { return nil }
        self.text = text
        self.date = date
    }

    public var description: String { text }

    public static func < (lhs: SnapshotID, rhs: SnapshotID) -> Bool { lhs.text < rhs.text }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = SnapshotID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(text) is not a snapshot id"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
