/// A server, store or folder a test starts and must clean up after itself: ``withResource(_:_:)`` runs the test
/// with it and awaits ``close()`` afterwards.
package protocol TestResource: Sendable {
    /// Stops what the resource started and removes what it made; returns once that is done.
    func close() async
}

/// Runs `body` with `resource` and awaits the resource's ``TestResource/close()`` after it, whether `body`
/// returns, throws or is cancelled.
package func withResource<Resource: TestResource, Result>(
    _ resource: Resource, _ body: (Resource) async throws -> Result
) async throws -> Result {
    try await withResource(resource, cleanUp: { await $0.close() }, body)
}

/// Runs `body` with `resource` and awaits `cleanUp` after it, whether `body` returns, throws or is cancelled (see
/// ``withScoped(_:stop:_:)``): what a test started is gone before the next test starts, and a clean-up that
/// hangs holds up its own test rather than a later one.
///
/// The clean-up runs in a task of its own: in a cancelled test, sleeps and child processes end at once, so it
/// would neither wait for a server to stop nor run the commands that stop it.
package func withResource<Resource: Sendable, Result>(
    _ resource: Resource, cleanUp: @escaping @Sendable (Resource) async -> Void,
    _ body: (Resource) async throws -> Result
) async throws -> Result {
    try await withScoped(resource, stop: { resource in await Task { await cleanUp(resource) }.value }, body)
}
