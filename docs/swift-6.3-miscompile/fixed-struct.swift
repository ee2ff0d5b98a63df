// Swift 6.3.1 -O miscompile: a child-task closure that returns a tuple of a captured value and
// `try await …` inside do/catch loses the captured value (the task group then yields nothing,
// garbage, or crashes). Correct with -Onone.
import Glibc
func say(_ line: String) {  // unbuffered, so the output survives when the -O binary crashes
    var line = line + "\n"; line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

final class Box: Sendable { let text: String; init(_ text: String) { self.text = text } }
struct Payload: Sendable { var owner: Box; var tags: [String]; var meta: [String: String] }

@inline(never)  // stands in for a call into another module (an HTTP client, an object store)
func fetch(_ key: String) async throws -> Payload {
    try await Task.sleep(for: .milliseconds(1))
    if key.hasSuffix("3") { throw CancellationError() }
    return Payload(owner: Box("owner of " + key), tags: [key, key], meta: ["key": key])
}

struct Loaded: Sendable { var key: String; var result: Result<Payload, any Error> }

func load(_ keys: [String]) async -> [(String, Result<Payload, any Error>)] {
    await withTaskGroup(of: Loaded.self) { group in
        for key in keys {
            group.addTask {
                do { return Loaded(key: key, result: .success(try await fetch(key))) } catch {
                    return Loaded(key: key, result: .failure(error))
                }
            }
        }
        var results: [(String, Result<Payload, any Error>)] = []
        for await loaded in group { results.append((loaded.key, loaded.result)) }
        return results
    }
}

let one = await load(["a key long enough to live on the heap"])
say("1 task added, \(one.count) result(s): \(one.map { $0.0.debugDescription })")

let keys = (0..<8).map { "key number \($0), long enough to live on the heap" }
for round in 1...100 {
    let results = await load(keys)
    let good = results.filter { key, result in
        switch result {
        case .success(let p): return p.owner.text == "owner of " + key && p.meta["key"] == key
        case .failure: return key.hasSuffix("3")
        }
    }
    if good.count != keys.count {
        say("round \(round): \(keys.count) tasks added, \(results.count) results, \(good.count) correct")
        break
    }
}
say("done")
