import DynokeeperTestSupport
import Foundation
import Testing

/// The command line as an operator uses it: the built binary, its output and exit status.
@Suite(.tags(.integration, .process)) struct CommandLineTests {
    @Test func helpListsTheCommandsAndVersionPrints() async throws {
        let help = try await DynokeeperBinary.run(["--help"])
        #expect(help.status == 0)
        for command in ["backup", "snapshots", "config", "storage"] { #expect(help.stdoutText.contains(command)) }
        let version = try await DynokeeperBinary.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    /// Names given on the command line that become store paths are checked like the configuration's and the API's.
    @Test func namesThatWouldLeaveTheStoreAreRefusedOnTheCommandLine() async throws {
        for arguments in [
            ["snapshots", "--cluster", ".."], ["snapshots", "show", "20261124T020000Z", "--cluster", "a/b"],
            ["restore", "--dry-run", "--source-cluster", "../.."], ["restore", "--dry-run", "--source-rack", ""],
            ["ring", "snapshots", "--cluster", "."], ["ring", "restore", "--dry-run", "--source-cluster", ".."],
        ] {
            let result = try await DynokeeperBinary.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderrText)")
            #expect(
                result.stderrText.contains("becomes a folder name in the store"), "\(arguments): \(result.stderrText)")
        }
    }

    @Test func configCheckPrintsTheEffectiveSettings() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try """
        cluster: prod-users
        storage:
          url: s3://my-bucket/prefix
          endpoint: http://127.0.0.1:1
        dynomitemanager.dyno.backup.snapshot.enabled: true
        """.write(toFile: folder.file("dynokeeper.yml"), atomically: false, encoding: .utf8)
        let result = try await DynokeeperBinary.run(
            ["config", "check"],
            environment: [
                "DYNOKEEPER_REDIS_PORT": "7000", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "very-secret",
            ],
            in: folder.path)
        #expect(result.status == 0, "\(result.stderrText)")
        let out = result.stdoutText
        #expect(squeezed(out).contains("configuration is valid"))
        #expect(squeezed(out).contains("cluster prod-users # dynokeeper.yml line 1"))
        #expect(squeezed(out).contains("redis.port 7000 # environment variable DYNOKEEPER_REDIS_PORT"))
        #expect(
            squeezed(out).contains("backup.enabled true # from dynomitemanager.dyno.backup.snapshot.enabled"))
        #expect(squeezed(out).contains("credentials: environment variables (AKIA…MPLE, secret <redacted>)"))
        #expect(!squeezed(out).contains("very-secret"))
    }

    /// What the file cannot say by itself: files that are missing or malformed, commands a restore needs, and
    /// what the node's identity and Redis address resolve to.
    @Test func configCheckFindsWhatAJobWouldTripOverAndShowsWhatItResolved() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let check = { (yaml: String) async throws -> ProcessResult in
            try yaml.write(toFile: folder.file("dynokeeper.yml"), atomically: false, encoding: .utf8)
            return try await DynokeeperBinary.run(["config", "check"], in: folder.path)
        }
        let missingYAML = try await check("node:\n  dynomite_yaml: \(folder.file("absent.yml"))\n")
        #expect(missingYAML.status == 1)
        #expect(
            missingYAML.stdoutText.contains("error: node.dynomite_yaml: cannot read \(folder.file("absent.yml"))"),
            "\(missingYAML.stdoutText)")

        try "dyn_o_mite:\n  tokens: [not, a, token]\n".write(
            toFile: folder.file("bad-dynomite.yml"), atomically: false, encoding: .utf8)
        // A local store others on the host may read is allowed, and said.
        let readable = try await check("storage:\n  url: \(folder.file("store"))\n  local_file_mode: \"0644\"\n")
        #expect(
            readable.stdoutText.contains(
                "warning: storage.local_file_mode 644 and local_folder_mode 700 let other users"),
            "\(readable.stdoutText)")
        let malformed = try await check("node:\n  dynomite_yaml: \(folder.file("bad-dynomite.yml"))\n")
        #expect(malformed.status == 1)
        #expect(malformed.stdoutText.contains("error: "), "\(malformed.stdoutText)")

        let files = try await check(
            "redis:\n  password_file: \(folder.file("no-password"))\n  conf: \(folder.file("no-redis.conf"))\n")
        #expect(files.status == 1)
        #expect(
            files.stdoutText.contains("error: redis.password_file: cannot read \(folder.file("no-password"))"),
            "\(files.stdoutText)")
        #expect(
            files.stdoutText.contains(
                "error: redis.conf: cannot read \(folder.file("no-redis.conf")): it does not exist"))
        #expect(
            files.stdoutText.components(separatedBy: "no-redis.conf").count == 3,
            "the file once in the settings, once in the error")

        let restores = try await check("restore:\n  enabled: true\n")
        #expect(restores.status == 1)
        #expect(restores.stdoutText.contains("restores would be refused: set redis.start"), "\(restores.stdoutText)")
        #expect(restores.stdoutText.contains("restores would be refused: set redis.conf or redis.data_dir"))

        let never = try await check("backup:\n  schedule: \"0 0 31 2 *\"\n")
        #expect(never.status == 1)
        #expect(never.stderrText.contains("never fires"), "\(never.stderrText)")

        // The node's identity and Redis address from dynomite.yml, not "(not set)".
        try """
        dyn_o_mite:
          datacenter: us-east-1
          rack: us-east-1c
          tokens: '1383429731'
          listen: 0.0.0.0:8102
          servers:
          - 127.0.0.1:1:1
          data_store: 0
        """.write(toFile: folder.file("dynomite.yml"), atomically: false, encoding: .utf8)
        let resolved = try await check("node:\n  dynomite_yaml: \(folder.file("dynomite.yml"))\n")
        #expect(resolved.status == 0, "\(resolved.stdoutText)")
        #expect(
            squeezed(resolved.stdoutText).contains(
                "node.datacenter us-east-1 # dynomite.yml \(folder.file("dynomite.yml"))"),
            "\(resolved.stdoutText)")
        #expect(squeezed(resolved.stdoutText).contains("node.tokens 1383429731"))
        #expect(squeezed(resolved.stdoutText).contains("redis.port 1 # servers: in dynomite.yml"))
        #expect(!squeezed(resolved.stdoutText).contains("node.rack (not set)"))
        #expect(
            squeezed(resolved.stdoutText).contains(
                "warning: Redis does not answer: cannot connect to Redis at 127.0.0.1:1: Connection refused"),
            "\(resolved.stdoutText)")

        // A password Redis refuses is an error (every job would fail), said once; a password file anyone can read
        // is a warning; a listener off loopback without a token is an error.
        try await withResource(RedisServer.start(password: "right-password")) { redis in
            try "wrong-password\n".write(toFile: folder.file("password"), atomically: false, encoding: .utf8)
            chmod(folder.file("password"), 0o644)
            let wrong = try await check(
                "redis:\n  port: \(redis.port)\n  password_file: \(folder.file("password"))\nserver:\n  listen: 0.0.0.0:8080\n"
            )
            #expect(wrong.status == 1)
            #expect(wrong.stdoutText.contains("error: Redis refused AUTH: WRONGPASS"), "\(wrong.stdoutText)")
            #expect(!wrong.stdoutText.contains("Redis refused AUTH: Redis refused AUTH"))
            #expect(
                wrong.stdoutText.contains(
                    "warning: redis.password_file \(folder.file("password")) is readable by every user"))
            #expect(wrong.stdoutText.contains("dynokeeper serve would refuse to start"))
            #expect(!wrong.stdoutText.contains("wrong-password"))
        }
    }

    @Test func aBadConfigurationFailsWithOneClearLine() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try "redis:\n  prot: 6379\n".write(toFile: folder.file("bad.yml"), atomically: false, encoding: .utf8)
        let result = try await DynokeeperBinary.run(["config", "check", "--config", folder.file("bad.yml")])
        #expect(result.status == 1)
        #expect(
            result.stderrText
                == "error: unknown configuration key redis.prot (\(folder.file("bad.yml")) line 2); did you mean redis.port?\n"
        )
        let missing = try await DynokeeperBinary.run(["config", "check", "--config", folder.file("absent.yml")])
        #expect(missing.status == 1)
        #expect(missing.stderrText.contains("does not exist"))
    }

    @Test func storageCheckRoundTripsThroughS3() async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("cli")
        let result = try await DynokeeperBinary.run(
            ["storage", "check", "--size-mb", "12"],
            environment: [
                "DYNOKEEPER_STORAGE_URL": "s3://\(bucket)/some/prefix", "DYNOKEEPER_STORAGE_ENDPOINT": server.endpoint,
                "DYNOKEEPER_STORAGE_PART_SIZE_MB": "5", "AWS_ACCESS_KEY_ID": server.accessKey,
                "AWS_SECRET_ACCESS_KEY": server.secretKey, "AWS_EC2_METADATA_DISABLED": "true",
            ])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText.contains("store: s3://\(bucket)/some/prefix"))
        #expect(result.stdoutText.contains("write _dynokeeper-probe/"))
        #expect(result.stdoutText.contains("storage check passed"))
        let left = try await server.awsCheck(["s3api", "list-objects-v2", "--bucket", bucket])
        #expect(!left.stdoutText.contains("_dynokeeper-probe"))
    }

    @Test func storageCheckWithAWrongSecretSaysSo() async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("cli")
        let result = try await DynokeeperBinary.run(
            ["storage", "check"],
            environment: [
                "DYNOKEEPER_STORAGE_URL": "s3://\(bucket)", "DYNOKEEPER_STORAGE_ENDPOINT": server.endpoint,
                "AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": "wrong",
                "AWS_EC2_METADATA_DISABLED": "true",
            ])
        #expect(result.status == 1)
        #expect(result.stderrText.contains("SignatureDoesNotMatch"))
        #expect(result.stderrText.contains("check the secret access key"))
    }
}

/// Output with its columns' padding squeezed to single spaces, so that expectations do not depend on the widest key.
func squeezed(_ text: String) -> String {
    text.replacing(/\ {2,}/, with: " ")
}
