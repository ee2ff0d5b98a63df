/// Lines as Redis writes its configuration and AOF manifest: words separated by spaces, with double quotes
/// around words that contain spaces.
enum RedisLine {
    static func tokenize(_ line: String) throws -> [String] {
        var tokens: [String] = []
        var current = ""
        var quoted = false
        var inToken = false
        for character in line {
            if quoted {
                if character == "\"" { quoted = false } else { current.append(character) }
            } else if character == "\"" {
                quoted = true
                inToken = true
            } else if character == " " || character == "\t" {
                if inToken { tokens.append(current) }
                current = ""
                inToken = false
            } else {
                current.append(character)
                inToken = true
            }
        }
        if quoted { throw DynokeeperError.snapshot("unbalanced quote in: \(line)") }
        if inToken { tokens.append(current) }
        return tokens
    }
}
