import DynokeeperConfiguration
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import Synchronization

/// The API's TLS (`server.tls_cert_file`, `server.tls_key_file`, `server.client_ca_file`): what Hummingbird serves
/// with, and the certificate and key re-read on SIGHUP. Each handshake takes the newest pair, so a renewed
/// certificate is served without a restart and without dropping connections.
final class APITLS: Sendable {
    struct Material: Sendable {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
    }

    let certFile: String
    let keyFile: String
    let clientCAFile: String?
    private let current: Mutex<Material>

    /// - Returns: `nil` when the API is served without TLS.
    /// - Throws: `ConfigurationError` naming the file that does not load.
    static func make(_ server: DynokeeperConfiguration.Server) throws -> APITLS? {
        guard let cert = server.tlsCertFile, let key = server.tlsKeyFile else { return nil }
        return try APITLS(certFile: cert, keyFile: key, clientCAFile: server.clientCAFile)
    }

    init(certFile: String, keyFile: String, clientCAFile: String?) throws {
        self.certFile = certFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
        current = Mutex(try Self.load(certFile: certFile, keyFile: keyFile))
        if let clientCAFile {
            do {
                guard !(try NIOSSLCertificate.fromPEMFile(clientCAFile)).isEmpty else {
                    throw ConfigurationError("server.client_ca_file \(clientCAFile) holds no certificate")
                }
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw ConfigurationError(
                    "server.client_ca_file \(clientCAFile) is not a PEM certificate file: \(error)")
            }
        }
    }

    static func load(certFile: String, keyFile: String) throws -> Material {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certFile)
        } catch {
            throw ConfigurationError("server.tls_cert_file \(certFile) is not a PEM certificate file: \(error)")
        }
        guard !chain.isEmpty else { throw ConfigurationError("server.tls_cert_file \(certFile) holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            // Never the key's content: only that it does not load.
            throw ConfigurationError("server.tls_key_file \(keyFile) is not a PEM private key this user can read")
        }
        // A key that is not the certificate's would fail every handshake: a context refuses the pair up front (a
        // renewal that has copied the certificate but not yet the key is caught here, not by every client).
        do {
            _ = try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw ConfigurationError(
                "server.tls_key_file \(keyFile) is not the key of the certificate in server.tls_cert_file \(certFile)")
        }
        return Material(chain: chain, key: key)
    }

    /// Re-reads the certificate and the key; a pair that does not load keeps the previous one in service.
    func reload(logger: Logger) {
        do {
            let material = try Self.load(certFile: certFile, keyFile: keyFile)
            current.withLock { $0 = material }
            logger.notice("TLS certificate reloaded from \(certFile)")
        } catch {
            logger.error("TLS certificate not reloaded, the previous one stays in service: \(error)")
        }
    }

    /// Hummingbird's server with TLS: the newest certificate for each handshake, client certificates required
    /// when `server.client_ca_file` is set.
    func server() throws -> HTTPServerBuilder {
        let material = current.withLock { $0 }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: material.chain.map { .certificate($0) }, privateKey: .privateKey(material.key))
        tls.minimumTLSVersion = .tlsv12
        if let clientCAFile {
            // Client certificates name no host to check: the authority that signed them is what counts.
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .file(clientCAFile)
        }
        tls.sslContextCallback = { [self] _, promise in
            let material = current.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = material.chain.map { .certificate($0) }
            override.privateKey = .privateKey(material.key)
            promise.succeed(override)
        }
        return try .tls(.http1(), tlsConfiguration: tls)
    }
}
