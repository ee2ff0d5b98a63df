import Foundation

/// Certificates made with `openssl` for TLS tests: a certificate authority, a server certificate for 127.0.0.1 and
/// localhost (usable as a client certificate too, as ring members use theirs), a client certificate, and a second
/// authority with a client certificate of its own that the first does not know.
package struct TestCertificates: Sendable {
    package let folder: TemporaryDirectory

    package var caFile: String { folder.file("ca.pem") }
    package var serverCert: String { folder.file("server.pem") }
    package var serverKey: String { folder.file("server.key") }
    package var clientCert: String { folder.file("client.pem") }
    package var clientKey: String { folder.file("client.key") }
    package var rogueCert: String { folder.file("rogue-client.pem") }
    package var rogueKey: String { folder.file("rogue-client.key") }

    package static func make() async throws -> TestCertificates {
        let certificates = TestCertificates(folder: try TemporaryDirectory(prefix: "tls"))
        try await certificates.authority("ca", name: "dynokeeper test CA")
        try await certificates.issue("server", by: "ca", name: "node-1")
        try await certificates.issue("client", by: "ca", name: "ring member")
        try await certificates.authority("rogue-ca", name: "someone else's CA")
        try await certificates.issue("rogue-client", by: "rogue-ca", name: "intruder")
        return certificates
    }

    func authority(_ name: String, name subject: String) async throws {
        try await ProcessRunner.check(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", folder.file(name + ".key"), "-out", folder.file(name + ".pem"), "-days", "2",
                "-subj", "/CN=\(subject)",
            ])
    }

    /// Issues (or issues again, with another subject: a renewal) a certificate for 127.0.0.1 and localhost.
    package func issue(_ name: String, by authority: String = "ca", name subject: String) async throws {
        let extensions = folder.file(name + ".ext")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n".write(
            toFile: extensions, atomically: true, encoding: .utf8)
        try await ProcessRunner.check(
            "openssl",
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", folder.file(name + ".key"), "-out", folder.file(name + ".csr"), "-subj", "/CN=\(subject)",
            ])
        try await ProcessRunner.check(
            "openssl",
            [
                "x509", "-req", "-in", folder.file(name + ".csr"), "-CA", folder.file(authority + ".pem"),
                "-CAkey", folder.file(authority + ".key"), "-CAcreateserial", "-out", folder.file(name + ".pem"),
                "-days", "2", "-extfile", extensions,
            ])
        chmod(folder.file(name + ".key"), 0o600)
    }

    package func remove() { folder.remove() }
}
