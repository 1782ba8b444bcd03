// The answers that never change, shared by both executables: the stylesheet every page uses
// (at /_/style.css for the 307 body, which links to it instead of carrying it), the favicon
// browsers ask for on every visit (204: there is none, and the answer may be cached for a
// day), and robots.txt. Their bytes are built once, when first used.

import LinkRingCore

package enum FixedBodies {
    static let stylesheet: [UInt8] = Array(UnsafeBufferPointer(start: Pages.style.utf8Start, count: Pages.style.utf8CodeUnitCount))
    static let cacheForADay: [UInt8] = Array("Cache-Control: public, max-age=86400".utf8)
}

extension Responder {
    package func respondStylesheet() {
        respond(.ok, contentType: ContentType.css, body: FixedBodies.stylesheet, extraHeaders: [FixedBodies.cacheForADay])
    }

    package func respondFixed(_ resource: FixedResource) {
        switch resource {
        case .favicon:
            send(.noContent) { output, context in Response.appendNoContent(to: &output, extraHeaders: [FixedBodies.cacheForADay], context) }
        case .robots:
            respond(.ok, contentType: ContentType.text, body: FixedResource.robotsText, extraHeaders: [FixedBodies.cacheForADay])
        }
    }
}
