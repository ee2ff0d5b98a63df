import CZstd

/// A failure of libzstd, or input that is not (whole) zstd data.
package struct ZstdError: Error, Sendable, CustomStringConvertible, Equatable {
    package var description: String

    package init(_ description: String) { self.description = description }

    /// Turns a libzstd return code into an error when it is one.
    @discardableResult
    static func check(_ code: Int, _ what: String) throws(ZstdError) -> Int {
        if ZSTD_isError(code) != 0 {
            throw ZstdError("\(what): \(String(cString: ZSTD_getErrorName(code)))")
        }
        return code
    }
}
