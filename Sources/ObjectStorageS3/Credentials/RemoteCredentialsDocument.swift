import AWSSigV4
import Foundation

/// The JSON that ECS and EC2 instance metadata return for credentials.
struct RemoteCredentialsDocument: Decodable {
    var Code: String?
    var Message: String?
    var AccessKeyId: String?
    var SecretAccessKey: String?
    var Token: String?
    var Expiration: String?

    func credentials(source: String) throws -> AWSCredentials {
        if let code = Code, code != "Success" {
            throw CredentialError("\(source) answered \(code): \(Message ?? "no message")")
        }
        guard let id = AccessKeyId, let secret = SecretAccessKey else {
            throw CredentialError("\(source) answered without AccessKeyId/SecretAccessKey")
        }
        var expiration: Date?
        if let text = Expiration {
            expiration = ISO8601DateFormatter().date(from: text)
            if expiration == nil {
                let withFraction = ISO8601DateFormatter()
                withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                expiration = withFraction.date(from: text)
            }
            guard expiration != nil else {
                throw CredentialError("\(source) answered an unreadable Expiration: \(text)")
            }
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: Token, expiration: expiration)
    }

    static func decode(_ data: Data, source: String) throws -> AWSCredentials {
        do {
            return try JSONDecoder().decode(Self.self, from: data).credentials(source: source)
        } catch let error as CredentialError {
            throw error
        } catch {
            throw CredentialError("\(source) answered something that is not a credentials document: \(error)")
        }
    }
}
