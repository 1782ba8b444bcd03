// HTTP status codes LinkRing answers with, and the status line bytes for each.
//
// Status lines are built once (static tables), so answering costs one append, not a format.

package enum HTTPStatus: Int, Sendable, CaseIterable {
    case continue_ = 100
    case ok = 200
    case created = 201
    case noContent = 204
    case temporaryRedirect = 307
    case badRequest = 400
    case unauthorized = 401
    case forbidden = 403
    case notFound = 404
    case methodNotAllowed = 405
    case requestTimeout = 408
    case conflict = 409
    case preconditionFailed = 412
    case payloadTooLarge = 413
    case uriTooLong = 414
    case expectationFailed = 417
    case misdirectedRequest = 421
    case unprocessableContent = 422
    case headerFieldsTooLarge = 431
    case internalServerError = 500
    case notImplemented = 501
    case serviceUnavailable = 503
    case httpVersionNotSupported = 505

    var reasonPhrase: String {
        switch self {
        case .continue_: "Continue"
        case .ok: "OK"
        case .created: "Created"
        case .noContent: "No Content"
        case .temporaryRedirect: "Temporary Redirect"
        case .badRequest: "Bad Request"
        case .unauthorized: "Unauthorized"
        case .forbidden: "Forbidden"
        case .notFound: "Not Found"
        case .methodNotAllowed: "Method Not Allowed"
        case .requestTimeout: "Request Timeout"
        case .conflict: "Conflict"
        case .preconditionFailed: "Precondition Failed"
        case .payloadTooLarge: "Content Too Large"
        case .uriTooLong: "URI Too Long"
        case .expectationFailed: "Expectation Failed"
        case .misdirectedRequest: "Misdirected Request"
        case .unprocessableContent: "Unprocessable Content"
        case .headerFieldsTooLarge: "Request Header Fields Too Large"
        case .internalServerError: "Internal Server Error"
        case .notImplemented: "Not Implemented"
        case .serviceUnavailable: "Service Unavailable"
        case .httpVersionNotSupported: "HTTP Version Not Supported"
        }
    }

    /// `HTTP/1.1 307 Temporary Redirect\r\n`, built once per status.
    var statusLine: [UInt8] { HTTPStatus.statusLines[self] ?? [] }

    private static let statusLines: [HTTPStatus: [UInt8]] = {
        var table: [HTTPStatus: [UInt8]] = [:]
        for status in allCases {
            table[status] = Array("HTTP/1.1 \(status.rawValue) \(status.reasonPhrase)\r\n".utf8)
        }
        return table
    }()
}
