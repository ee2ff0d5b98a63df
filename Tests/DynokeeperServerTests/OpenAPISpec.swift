import DynokeeperTestSupport
import Foundation
import Testing
import Yams

@testable import DynokeeperServer

/// docs/openapi.yaml, read as JSON values, with a small JSON Schema checker for the keywords it uses: `type`
/// (one or a list, `"null"` for nullable), `enum`, `format: date-time`, `properties`, `required`,
/// `additionalProperties` (`false` or a schema), `items` and `$ref`.
struct OpenAPISpec {
    typealias Value = RequestBody.Value

    let document: [String: Value]

    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/openapi.yaml").path

    static func load() throws -> OpenAPISpec {
        guard let node = try Yams.compose(yaml: String(contentsOfFile: path, encoding: .utf8)),
            case .object(let document) = value(node)
        else { throw TestSupportError("\(path) is not a YAML mapping") }
        return OpenAPISpec(document: document)
    }

    /// A YAML node as the JSON value it stands for.
    static func value(_ node: Node) -> Value {
        switch node {
        case .mapping(let mapping):
            let fields = mapping.map { ($0.key.string ?? "\($0.key)", value($0.value)) }
            return .object(Dictionary(uniqueKeysWithValues: fields))
        case .sequence(let sequence):
            return .array(sequence.map(value))
        case .scalar, .alias:
            if node.tag == Tag(.null) { return .null }
            if node.tag == Tag(.bool), let bool = node.bool { return .bool(bool) }
            if node.tag == Tag(.int) || node.tag == Tag(.float), let number = node.float { return .number(number) }
            return .string(node.string ?? "")
        }
    }

    // MARK: Operations

    var paths: [String: Value] { document["paths"]?.object ?? [:] }

    /// Every operation, as `GET /v1/jobs/{id}`.
    var operations: Set<String> {
        Set(paths.flatMap { path, item in (item.object ?? [:]).keys.map { "\($0.uppercased()) \(path)" } })
    }

    /// The operation a request is for, and the path template it matched (paths are case-insensitive).
    func operation(_ method: String, _ path: String) throws -> (template: String, operation: [String: Value]) {
        let segments = Self.segments(path)
        for (template, item) in paths {
            let pattern = Self.segments(template)
            guard pattern.count == segments.count,
                zip(pattern, segments).allSatisfy({ $0.hasPrefix("{") || $0.lowercased() == $1.lowercased() }),
                let operation = item.object?[method.lowercased()]?.object
            else { continue }
            return (template, operation)
        }
        throw TestSupportError("the spec has no \(method) \(path)")
    }

    static func segments(_ path: String) -> [Substring] {
        path.split(separator: "?", maxSplits: 1).first.map { $0.split(separator: "/") } ?? []
    }

    /// The problems of a reply to `method path`: a status the operation does not declare, another content type,
    /// a body that does not match the declared schema. A path the spec does not have must answer an error body.
    func problems(_ reply: TestDaemon.Reply, method: String, path: String) throws -> [String] {
        let place = "\(method) \(path) \(reply.status)"
        let contentType = reply.headers.first { $0.0.lowercased() == "content-type" }
            .map { String($0.1.split(separator: ";")[0]) }
        let json = try? JSONDecoder().decode(Value.self, from: Data(reply.body.utf8))
        guard let operation = try? operation(method, path) else {
            return problems(json ?? .string(reply.body), try schema("ErrorBody"), at: place)
        }
        let responses = operation.operation["responses"]?.object ?? [:]
        guard let declared = responses[String(reply.status)] ?? responses["default"] else {
            return ["\(method) \(operation.template) does not declare status \(reply.status)"]
        }
        let content = try resolve(declared).object?["content"]?.object ?? [:]
        guard let contentType, let schema = content[contentType]?.object?["schema"] else {
            return ["\(place): \(contentType ?? "no content type") is not declared, only \(content.keys.sorted())"]
        }
        guard contentType == "application/json" else { return problems(.string(reply.body), schema, at: place) }
        guard let json else { return ["\(place): the body is not JSON: \(reply.body)"] }
        return problems(json, schema, at: place)
    }

    /// Records an issue for each way a reply is not as docs/openapi.yaml describes it.
    static func expectConforms(
        _ reply: TestDaemon.Reply, method: String, path: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let problems = try load().problems(reply, method: method, path: path)
            #expect(problems.isEmpty, "\(problems)", sourceLocation: sourceLocation)
        } catch {
            Issue.record(error, sourceLocation: sourceLocation)
        }
    }

    /// The schema of an operation's JSON request body.
    func requestSchema(_ method: String, _ path: String) throws -> Value {
        let operation = try operation(method, path).operation
        guard let schema = operation["requestBody"]?.object?["content"]?.object?["application/json"]?.object?["schema"]
        else { throw TestSupportError("\(method) \(path) declares no JSON request body") }
        return try resolve(schema)
    }

    func schema(_ name: String) throws -> Value {
        try resolve(.object(["$ref": .string("#/components/schemas/\(name)")]))
    }

    /// Follows `$ref`s (`#/…` pointers into this document) until a value that is not one.
    func resolve(_ value: Value) throws -> Value {
        guard case .string(let reference)? = value.object?["$ref"] else { return value }
        guard reference.hasPrefix("#/") else { throw TestSupportError("\(reference) is not a local reference") }
        var target = Value.object(document)
        for name in reference.dropFirst(2).split(separator: "/") {
            guard let next = target.object?[String(name)] else { throw TestSupportError("\(reference) leads nowhere") }
            target = next
        }
        return try resolve(target)
    }

    // MARK: Schemas

    /// The ways `value` breaks `schema`, each with the JSON path where it does.
    /// - Parameter complete: Every property a schema declares must be there too, for values with every field set:
    ///   then a field the contract lost or renamed shows.
    func problems(_ value: Value, _ reference: Value, at path: String = "$", complete: Bool = false) -> [String] {
        let schema: [String: Value]
        do {
            guard let object = try resolve(reference).object else { return ["\(path): the schema is not an object"] }
            schema = object
        } catch {
            return ["\(path): \(error)"]
        }
        if let types = schema["type"] {
            let allowed = types.array?.compactMap(\.string) ?? types.string.map { [$0] } ?? []
            guard allowed.contains(where: { value.isOf(type: $0) }) else {
                return ["\(path): \(value.summary) is not \(allowed)"]
            }
        }
        if let values = schema["enum"]?.array, !values.contains(where: { $0.sameScalar(as: value) }) {
            return ["\(path): \(value.summary) is not one of \(values.map(\.summary))"]
        }
        if schema["format"]?.string == "date-time", case .string(let text) = value,
            (try? Date(text, strategy: .iso8601)) == nil
        {
            return ["\(path): \(text) is not an ISO 8601 date-time"]
        }
        var found: [String] = []
        if case .object(let fields) = value {
            let properties = schema["properties"]?.object ?? [:]
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where fields[name] == nil {
                found.append("\(path): the required field \(name) is missing")
            }
            if complete {
                for name in properties.keys.sorted() where fields[name] == nil {
                    found.append("\(path): the field \(name) is missing, though every field is set")
                }
            }
            for (name, field) in fields.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    found += problems(field, property, at: "\(path).\(name)", complete: complete)
                } else if case .bool(false)? = schema["additionalProperties"] {
                    found.append("\(path): the field \(name) is not in the schema (\(properties.keys.sorted()))")
                } else if let additional = schema["additionalProperties"], additional.object != nil {
                    found += problems(field, additional, at: "\(path).\(name)", complete: complete)
                }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() {
                found += problems(item, itemSchema, at: "\(path)[\(index)]", complete: complete)
            }
        }
        return found
    }
}

extension RequestBody.Value {
    var object: [String: Self]? { if case .object(let object) = self { object } else { nil } }
    var array: [Self]? { if case .array(let array) = self { array } else { nil } }
    var string: String? { if case .string(let text) = self { text } else { nil } }

    /// Whether it is of a JSON Schema type; integers are numbers without a fraction.
    func isOf(type: String) -> Bool {
        switch (type, self) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null),
            ("number", .number):
            true
        case ("integer", .number(let number)): number == number.rounded()
        default: false
        }
    }

    func sameScalar(as other: Self) -> Bool {
        switch (self, other) {
        case (.string(let a), .string(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// Short enough for a failure message.
    var summary: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .bool(let value): "\(value)"
        case .number(let value): "\(value)"
        case .null: "null"
        case .array(let items): "an array of \(items.count)"
        case .object(let fields): "an object with \(fields.keys.sorted())"
        }
    }
}
