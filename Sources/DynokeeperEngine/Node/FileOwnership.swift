import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owner, group and permission bits taken from a file or folder that Redis already uses, for what dynokeeper
/// puts beside it: a restored file must be readable and writable by the user Redis runs as (an AOF it cannot
/// append to makes it refuse to start), and nothing dynokeeper adds may be readable by everyone when Redis's
/// own files are not.
struct FileOwnership: Sendable, Equatable {
    var owner: uid_t
    var group: gid_t
    /// Permission bits (no set-id or sticky bits).
    var mode: mode_t
    /// Whether the reference was a folder (its execute bits mean "enter", not "run").
    var fromFolder: Bool

    /// What `path` has now, `nil` when it does not exist.
    static func of(_ path: String) -> FileOwnership? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return FileOwnership(
            owner: info.st_uid, group: info.st_gid, mode: info.st_mode & 0o777,
            fromFolder: info.st_mode & S_IFMT == S_IFDIR)
    }

    /// The mode a file or folder gets from this reference: a folder's execute bits go to folders only.
    func mode(forFolder: Bool) -> mode_t {
        if fromFolder && !forFolder { return mode & 0o666 }
        if !fromFolder && forFolder {
            // A folder made after a file: enter where the file could be read.
            return mode | ((mode & 0o444) >> 2)
        }
        return mode
    }

    /// Gives `path` this owner (when running as root), group (when this user may: root, or a member of it) and
    /// mode.
    /// - Returns: What could not be applied, for a warning (the restore's start-up check tells whether Redis can
    ///   use the file anyway).
    @discardableResult
    func apply(to path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return "\(path): \(String(cString: strerror(errno)))" }
        var problems: [String] = []
        if geteuid() == 0 {
            if (info.st_uid != owner || info.st_gid != group) && lchown(path, owner, group) != 0 {
                problems.append("chown \(owner):\(group): \(String(cString: strerror(errno)))")
            }
        } else if info.st_gid != group && lchown(path, uid_t.max, group) != 0 {
            problems.append(
                "chgrp \(group): \(String(cString: strerror(errno))) (run dynokeeper as a member of Redis's group so that it can give Redis its files)"
            )
        }
        var wanted = mode(forFolder: info.st_mode & S_IFMT == S_IFDIR)
        if geteuid() != 0 && owner != info.st_uid {
            // Redis's user does not own the file (only root could give it away): it reaches it through the group,
            // which then needs what the owner had (an AOF increment is 0640 for Redis, and Redis appends to it).
            wanted |= (wanted & 0o700) >> 3
        }
        if info.st_mode & 0o777 != wanted && chmod(path, wanted) != 0 {
            problems.append("chmod \(String(wanted, radix: 8)): \(String(cString: strerror(errno)))")
        }
        return problems.isEmpty ? nil : "\(path): " + problems.joined(separator: ", ")
    }
}

/// The state folder (node lock, restore journal), created on first use with the data folder's owner and group
/// and no access for others.
enum StateFolder {
    static func make(_ folders: NodeFolders) throws {
        var info = stat()
        if stat(folders.state, &info) == 0 {
            // Made before the data folder's group could write (the README's set-up for a dynokeeper user of its
            // own): its owner keeps it in step.
            if info.st_uid == geteuid(), let data = FileOwnership.of(folders.data)?.mode,
                data & 0o070 & ~info.st_mode != 0
            {
                chmod(folders.state, (info.st_mode & 0o7777) | (data & 0o070))
            }
            if let problem = FolderAccess.problem(folders.state, what: "dynokeeper's state folder") {
                throw DynokeeperError.snapshot(
                    "\(problem); give this user write access to it (chmod g+rwx on it when this user is in its group), or set node.state_dir to a folder this user can write"
                )
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: folders.state, withIntermediateDirectories: true)
        } catch {
            throw DynokeeperError.snapshot(
                "cannot create dynokeeper's state folder \(folders.state): \(error.localizedDescription); set node.state_dir to a folder this user can write, or let this user write Redis's data folder (see the README's Running in production)"
            )
        }
        if let mode = FileOwnership.of(folders.data)?.mode {
            giveToDataOwner(folders.state, folders: folders, mode: (mode & 0o770) | 0o700)
        } else {
            chmod(folders.state, 0o700)
        }
    }

    /// Gives what dynokeeper created in the state or data folder the data folder's owner (when running as root)
    /// and group, with `mode`: a root command and a daemon running as Redis's user then both use it.
    static func giveToDataOwner(_ path: String, folders: NodeFolders, mode: mode_t) {
        guard var reference = FileOwnership.of(folders.data) else { return }
        reference.mode = mode
        reference.fromFolder = FileOwnership.of(path)?.fromFolder ?? false
        if geteuid() != 0 { reference.owner = geteuid() }
        reference.apply(to: path)
    }
}

/// Whether this process may change a folder's entries, with a message saying why not.
enum FolderAccess {
    /// `nil` when this process may create, rename and remove entries in `path`.
    static func problem(_ path: String, what: String) -> String? {
        guard faccessat(AT_FDCWD, path, W_OK | X_OK, AT_EACCESS) != 0 else { return nil }
        let error = String(cString: strerror(errno))
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
        var detail = ""
        if let ownership = FileOwnership.of(path) {
            let owner =
                getpwuid(ownership.owner).map { String(cString: $0.pointee.pw_name) } ?? "uid \(ownership.owner)"
            let group =
                getgrgid(ownership.group).map { String(cString: $0.pointee.gr_name) } ?? "gid \(ownership.group)"
            detail = " (owner \(owner), group \(group), mode \(String(ownership.mode, radix: 8)))"
        }
        return "dynokeeper runs as \(user) and cannot change \(what) \(path)\(detail): \(error)"
    }

    /// What keeps a restore from setting the data aside: it renames files in the data folder and moves Redis's AOF
    /// folder, so both must be writable by this user (a folder moved to another parent needs write access to itself).
    static func restoreProblems(directory: String, appendDirectory: String?) -> [String] {
        var problems = [problem(directory, what: "Redis's data folder")]
        if let folder = appendDirectory, FileOwnership.of(directory + "/" + folder)?.fromFolder == true {
            problems.append(problem(directory + "/" + folder, what: "Redis's AOF folder"))
        }
        return problems.compactMap { $0 }
    }
}
