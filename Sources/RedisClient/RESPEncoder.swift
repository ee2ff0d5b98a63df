package import NIOCore

/// Writes commands as RESP arrays of bulk strings, the form Redis expects from clients.
package enum RESPEncoder {
    package static func encode(_ command: [String], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(command.count)\r\n")
        for argument in command {
            buffer.writeString("$\(argument.utf8.count)\r\n")
            buffer.writeString(argument)
            buffer.writeString("\r\n")
        }
    }
}
