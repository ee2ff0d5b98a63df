extension DynokeeperConfiguration.Storage {
    /// Reads the `storage.*` keys and Dynomite-manager's bucket and base folder.
    /// - Parameter environment: Where the region defaults come from (`AWS_REGION`, `AWS_DEFAULT_REGION`).
    init(reading reader: inout TypedReader, environment: [String: String]) throws {
        // Dynomite-manager's bucket and base_dir make an s3:// URL, with its defaults for the missing half.
        let bucket = try reader.string(DynomiteManagerKeys.bucket)
        let baseDir = try reader.string(DynomiteManagerKeys.baseDir)
        // As the user wrote them, with where.
        let named = [DynomiteManagerKeys.bucket, DynomiteManagerKeys.baseDir].filter { reader.raw[$0] != nil }
            .map(reader.named)
        let url: StorageURL
        var literalBaseDir: String?
        if let parsed = try reader.parsed("storage.url", StorageURL.init(parsing:)) {
            if bucket != nil || baseDir != nil {
                throw ConfigurationError(
                    "storage.url (\(parsed.origin)) and Dynomite-manager's \(named.joined(separator: " and ")) both say where backups go: keep one"
                )
            }
            url = parsed.value
            reader.record("storage.url", url.description, parsed.origin)
        } else if bucket != nil || baseDir != nil || reader.raw.namesDynomiteManager {
            // Dynomite-manager's settings mean its store, its defaults filling what they leave out. Each generation
            // has its own default bucket: v2 (dbsidecar.*) us-east-1.dynomite-backup-test, earlier ones
            // dynomite-backup.
            let v2 = reader.raw.namesDynomiteManagerV2
            let bucketName = bucket ?? (v2 ? "us-east-1.dynomite-backup-test" : "dynomite-backup")
            let given = baseDir ?? "backup"
            literalBaseDir = given
            url = .s3(bucket: bucketName, prefix: StorageURL.tidy(given))
            let origin = ValueOrigin.alias(of: named + (named.count < 2 ? ["Dynomite-manager's defaults"] : []))
            // Shown with the base_dir as given, slashes and all.
            reader.record("storage.url", "s3://\(bucketName)/\(given)", origin)
        } else {
            url = .defaultLocal
            reader.record("storage.url", url.description, .defaultValue)
        }
        if case .s3(let bucketName, _) = url, let problem = Self.checkBucket(bucketName) {
            throw ConfigurationError("storage bucket \"\(bucketName)\": \(problem)")
        }
        let endpoint = try reader.string(
            "storage.endpoint",
            check: { text in
                guard let scheme = text.range(of: "://"),
                    ["http", "https"].contains(text[..<scheme.lowerBound].lowercased()),
                    !text[scheme.upperBound...].isEmpty
                else { return "it must start with http:// or https:// and name a host" }
                return nil
            })
        let region = try reader.string(
            "storage.region", default: environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1",
            check: { $0.isEmpty ? "empty" : nil })!
        let pathStyle = try reader.bool("storage.path_style")
        reader.record(
            "storage.path_style", pathStyle.map { String($0.value) } ?? "auto", pathStyle?.origin ?? .defaultValue)
        // S3 allows parts up to 5 GiB, but a part is gathered in one buffer, which holds less than 4 GiB.
        let partSize = try reader.int("storage.part_size_mb", default: 8, range: 5...4095)!
        let concurrency = try reader.int("storage.concurrency", default: 8, range: 1...64)!
        let bufferMB = try reader.int("storage.buffer_mb", default: 32, range: 16...65_536)!
        let maxAttempts = try reader.int("storage.max_attempts", default: 10, range: 1...100)!
        let giveUpAfter = try reader.int("storage.give_up_after_seconds", default: 120, range: 1...86_400)!
        let sse = try reader.string(
            "storage.server_side_encryption",
            check: {
                ServerSideEncryption(rawValue: $0) == nil ? "unknown encryption" : nil
            }
        ).flatMap(ServerSideEncryption.init(rawValue:))
        let kmsKey = try reader.string("storage.kms_key_id")
        if kmsKey != nil && sse != .kms {
            throw ConfigurationError("storage.kms_key_id is set but storage.server_side_encryption is not aws:kms")
        }
        let profile = try reader.string("storage.profile")
        let fileMode = try reader.parsed("storage.local_file_mode") { try Self.mode($0, needs: 0o600) }
        let folderMode = try reader.parsed("storage.local_folder_mode") { try Self.mode($0, needs: 0o700) }
        for (key, mode, fallback) in [
            ("storage.local_file_mode", fileMode, "0600"), ("storage.local_folder_mode", folderMode, "0700"),
        ] {
            reader.record(key, mode.map { "0" + String($0.value, radix: 8) } ?? fallback, mode?.origin ?? .defaultValue)
        }
        self.init(
            url: url, dynomiteManagerBaseDir: literalBaseDir, endpoint: endpoint, region: region,
            pathStyle: pathStyle?.value, partSizeMB: partSize,
            concurrency: concurrency, maxAttempts: maxAttempts, giveUpAfterSeconds: giveUpAfter,
            serverSideEncryption: sse, kmsKeyID: kmsKey, profile: profile, bufferMB: bufferMB)
        localFileMode = fileMode?.value ?? 0o600
        localFolderMode = folderMode?.value ?? 0o700
    }

    /// An octal mode such as `0640`: permission bits only, with at least what the owner needs (`needs`).
    static func mode(_ text: String, needs: UInt16) throws -> UInt16 {
        guard let mode = UInt16(text, radix: 8), mode <= 0o777, mode & needs == needs else {
            throw ConfigurationError(
                "expected an octal mode such as \(String(needs, radix: 8).leftPadded(4)) in which the owner has at least \(String(needs, radix: 8).leftPadded(4))"
            )
        }
        return mode
    }

    static func checkBucket(_ bucket: String) -> String? {
        let allowed = bucket.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
        guard (3...63).contains(bucket.count), allowed, bucket.first != "-", bucket.first != ".", bucket.last != "-",
            bucket.last != "."
        else {
            return
                "bucket names have 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
        }
        return nil
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
