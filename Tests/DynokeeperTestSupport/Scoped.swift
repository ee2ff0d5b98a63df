/// Runs `body` with a resource started for it, and awaits the resource's clean-up after it, whether `body`
/// returns or throws: a test's servers and folders are gone before the next test starts.
/// - Parameters:
///   - resource: What the test uses, already started.
///   - stop: Its clean-up.
///   - body: The test.
package func withScoped<Resource, Result>(
    _ resource: Resource, stop: (Resource) async -> Void, _ body: (Resource) async throws -> Result
) async throws -> Result {
    let result: Result
    do {
        result = try await body(resource)
    } catch {
        await stop(resource)
        throw error
    }
    await stop(resource)
    return result
}
