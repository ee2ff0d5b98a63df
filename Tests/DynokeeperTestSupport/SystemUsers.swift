package import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The users production-like tests run processes as: Redis as Debian's `redis` user, dynokeeper as an
/// unprivileged user (`nobody`) that is a member of Redis's group, as the README tells operators to set it up.
/// Switching users needs root (CI runs as root); tests that need it are skipped otherwise.
package enum SystemUsers {
    package struct Account: Sendable {
        package var name: String
        package var uid: uid_t
        package var gid: gid_t
    }

    package static var isRoot: Bool { geteuid() == 0 }

    /// Debian's `redis` user, created by the redis-server package.
    package static let redis: Account? = account("redis")

    /// The unprivileged user dynokeeper runs as in tests.
    package static let nobody: Account? = account("nobody")

    /// Whether processes can be started as `redis` and as `nobody` here.
    package static var canSwitchUsers: Bool {
        isRoot && redis != nil && nobody != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
    }

    /// Who runs dynokeeper in a test.
    package enum Runner: Sendable, CustomStringConvertible {
        /// This process's user.
        case current
        /// `nobody`, with `redis` as a supplementary group.
        case nobodyInRedisGroup
        /// Redis's own user.
        case redis

        package var description: String {
            switch self {
            case .current: return "this user"
            case .nobodyInRedisGroup: return "nobody (in group redis)"
            case .redis: return "redis"
            }
        }

        /// The words that run a command as this user.
        package var prefix: [String] {
            switch self {
            case .current: return []
            case .nobodyInRedisGroup:
                guard let nobody = SystemUsers.nobody, let redis = SystemUsers.redis else { return [] }
                return [
                    "/usr/bin/setpriv", "--reuid=\(nobody.uid)", "--regid=\(nobody.gid)", "--groups=\(redis.gid)", "--",
                ]
            case .redis: return ["/usr/bin/setpriv", "--reuid=redis", "--regid=redis", "--init-groups", "--"]
            }
        }

        package var account: Account? {
            switch self {
            case .current: return nil
            case .nobodyInRedisGroup: return SystemUsers.nobody
            case .redis: return SystemUsers.redis
            }
        }
    }

    /// The words that run a command as `nobody` with `redis` as a supplementary group (no other groups).
    package static var asUnprivileged: [String] { Runner.nobodyInRedisGroup.prefix }

    /// The words that run a command as `redis` (with its groups).
    package static var asRedis: String { "/usr/bin/setpriv --reuid=redis --regid=redis --init-groups" }

    static func account(_ name: String) -> Account? {
        guard let entry = getpwnam(name) else { return nil }
        return Account(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// Gives a path (recursively) to an owner and group, with a mode for folders and one for files.
    package static func chown(_ path: String, to account: Account, folderMode: mode_t = 0o770, fileMode: mode_t = 0o660)
    {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        Glibc.lchown(path, account.uid, account.gid)
        if info.st_mode & S_IFMT == S_IFDIR {
            Glibc.chmod(path, folderMode)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                chown(path + "/" + name, to: account, folderMode: folderMode, fileMode: fileMode)
            }
        } else if info.st_mode & S_IFMT == S_IFREG {
            Glibc.chmod(path, fileMode)
        }
    }

    /// The owner, group and mode of a path.
    package static func owner(of path: String) -> (uid: uid_t, gid: gid_t, mode: mode_t)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (info.st_uid, info.st_gid, info.st_mode & 0o7777)
    }

    /// Whether `account` (with its own group and no others) may read and write a file, by the permission bits.
    package static func canReadAndWrite(_ path: String, as account: Account) -> Bool {
        guard let (uid, gid, mode) = owner(of: path) else { return false }
        if uid == account.uid { return mode & 0o600 == 0o600 }
        if gid == account.gid { return mode & 0o060 == 0o060 }
        return mode & 0o006 == 0o006
    }
}
