@inline(never) func fetch(_ key: String) async throws -> String { "value of " + key }

let key = "some key that is not a small string"
let task = Task { () -> (String, String) in
    do { return (key, try await fetch(key)) } catch { return (key, "") }
}
print(await task.value)
