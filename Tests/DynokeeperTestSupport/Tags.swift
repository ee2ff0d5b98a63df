public import Testing

extension Tag {
    /// Tests that start redis-server, SeaweedFS or other processes: slower, and they need those programs.
    @Tag public static var integration: Self
    /// Tests that run the dynokeeper binary itself (it must be built first).
    @Tag public static var process: Self
}
