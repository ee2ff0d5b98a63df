package import Crypto
package import DynokeeperConfiguration
import Foundation

/// The keys of `encryption.*`: the one new snapshots are encrypted with, and earlier ones that still decrypt.
/// Key files are read when a key is needed, so that a missing or unreadable file fails the job that needs it
/// (and `config check`), naming the file.
package struct SnapshotKeyring: Sendable {
    /// One key, known by its fingerprint: derived from the key (HKDF-SHA256), so that it names the key without
    /// revealing it.
    package struct Key: Sendable {
        package var fingerprint: String
        package var secret: SymmetricKey
        /// The setting and file it came from, for messages.
        package var origin: String
    }

    /// The fewest bytes of secret a key file must hold.
    package static let minimumKeyBytes = 32

    package let settings: DynokeeperConfiguration.Encryption

    package init(_ settings: DynokeeperConfiguration.Encryption) { self.settings = settings }

    /// A keyring without keys: snapshots stored in clear, encrypted ones refused.
    package static let none = SnapshotKeyring(.init())

    /// Whether new snapshots are encrypted.
    package var encrypts: Bool { settings.keyFile != nil }

    /// The key new snapshots are encrypted with; `nil` when encryption is off.
    package func current() throws -> Key? {
        try settings.keyFile.map { try Self.load($0, origin: "encryption.key_file") }
    }

    /// Every configured key, the current one first.
    package func all() throws -> [Key] {
        try (current().map { [$0] } ?? [])
            + settings.previousKeyFiles.map { try Self.load($0, origin: "encryption.previous_key_files") }
    }

    /// The key with this fingerprint.
    /// - Throws: `snapshot_invalid` naming the fingerprint needed and those configured, when no key has it.
    package func key(fingerprint: String, for what: String) throws -> Key {
        // One key file at a time: an old key that cannot be read (removed, or made world-readable) fails only the
        // snapshots that need it, and the message names it.
        var keys: [Key] = []
        var unreadable: [String] = []
        let files =
            (settings.keyFile.map { [($0, "encryption.key_file")] } ?? [])
            + settings.previousKeyFiles.map { ($0, "encryption.previous_key_files") }
        for (file, origin) in files {
            do {
                let key = try Self.load(file, origin: origin)
                if key.fingerprint == fingerprint { return key }
                keys.append(key)
            } catch {
                unreadable.append("\(error)")
            }
        }
        let configured =
            keys.isEmpty && unreadable.isEmpty
            ? "no key is configured: set encryption.key_file to that key's file"
            : "the configured keys have fingerprints \(keys.map { "\($0.fingerprint) (\($0.origin))" }.joined(separator: ", "))\(unreadable.isEmpty ? "" : "; and some cannot be read: " + unreadable.joined(separator: "; ")): add that key's file to encryption.previous_key_files"
        throw DynokeeperError.snapshot(
            "\(what) is encrypted with the key of fingerprint \(fingerprint), and \(configured); nothing was touched")
    }

    /// Reads a key file: at least 32 bytes of secret. A text file (such as `openssl rand -base64 48`'s) counts
    /// without its trailing line break.
    /// - Throws: `ConfigurationError` for a missing, short, repetitive or world-readable file.
    package static func load(_ path: String, origin: String) throws -> Key {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("\(origin): cannot read \(path)")
        }
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int),
            mode & 0o004 != 0
        {
            throw ConfigurationError(
                "\(origin) \(path) is readable by every user of this host: chmod o-r it (0600 or 0640)")
        }
        var bytes = [UInt8](data)
        if String(data: data, encoding: .utf8) != nil {
            while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        guard bytes.count >= minimumKeyBytes else {
            throw ConfigurationError(
                "\(origin) \(path) holds \(bytes.count) bytes: a key needs at least \(minimumKeyBytes) (openssl rand -base64 48 > \(path))"
            )
        }
        // Long enough is not secret enough: a repeated character or a short pattern (a random hex key has 16
        // different characters, base64 about 30, random bytes about 30).
        guard Set(bytes).count >= 8 else {
            throw ConfigurationError(
                "\(origin) \(path) uses only \(Set(bytes).count) different bytes: that is not a secret key (openssl rand -base64 48 > \(path))"
            )
        }
        let secret = SymmetricKey(data: bytes)
        return Key(fingerprint: fingerprint(of: secret), secret: secret, origin: "\(origin) \(path)")
    }

    /// 16 bytes derived from the key, in hex.
    static func fingerprint(of secret: SymmetricKey) -> String {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: secret, info: Array("dynokeeper key fingerprint v1".utf8), outputByteCount: 16)
        return derived.withUnsafeBytes { Hex.string($0) }
    }
}
