package import Testing

extension Tag {
    /// Tests that start redis-server, SeaweedFS or other processes: slower, and they need those programs.
    @Tag package static var integration: Self
    /// Tests that run the dynokeeper binary itself (it must be built first).
    @Tag package static var process: Self
}
