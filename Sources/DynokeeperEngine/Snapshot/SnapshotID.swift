package import Foundation

/// A snapshot's id: the UTC time its backup started, as `20261124T020000Z`, which sorts in time order.
package struct SnapshotID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    package let text: String
    package let date: Date

    private static let style = Date.ISO8601FormatStyle(dateSeparator: .omitted, timeSeparator: .omitted)

    /// The id of a backup starting at `date` (whole seconds).
    package init(date: Date) {
        let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        self.date = whole
        self.text = whole.formatted(Self.style)
    }

    /// Parses an id; `nil` if the text is not one.
    package init?(_ text: String) {
        guard text.utf8.count == 16, let date = try? Date(text, strategy: Self.style) else { return nil }
        self.text = text
        self.date = date
    }

    package var description: String { text }

    /// Parses an id given by a user (a flag, a request field).
    /// - Parameter what: What gave it, for the message: `--snapshot`, `field snapshot`.
    /// - Throws: `invalid_request` naming `what`.
    package static func parse(_ text: String, as what: String) throws(DynokeeperError) -> SnapshotID {
        guard let id = SnapshotID(text) else {
            throw DynokeeperError(.invalidRequest, "\(what): \(text) is not a snapshot id such as 20261124T020000Z")
        }
        return id
    }

    package static func < (lhs: SnapshotID, rhs: SnapshotID) -> Bool { lhs.text < rhs.text }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = SnapshotID(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "\(text) is not a snapshot id"))
        }
        self = id
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
