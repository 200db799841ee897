import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Closes the connection once a response that says `Connection: close` is written. Hummingbird 2 otherwise reads
/// (and drops) the rest of a request's body before the next request: after a 413 it would go on reading from a
/// client that keeps sending a body it will never use.
///
/// Install it with `server: .http1(additionalChannelHandlers: [CloseAfterResponseHandler()])` and read bodies with
/// `Request.collectBody(limit:)`, whose 413 says `Connection: close`.
public final class CloseAfterResponseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private var closeAfterEnd = false

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.connection]?.lowercased() == "close" { closeAfterEnd = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closeAfterEnd else {
                context.write(data, promise: promise)
                return
            }
            // The answer is flushed first; then the connection (and its unread body) is dropped.
            let context = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.value.writeAndFlush(data).whenComplete { result in
                context.value.close(promise: nil)
                promise?.completeWith(result)
            }
        }
    }
}

extension Request {
    /// The whole body, up to `limit` bytes. A longer one is answered 413 with `Connection: close`: the server does
    /// not read the rest (see `CloseAfterResponseHandler`).
    public mutating func collectBody(limit: Int) async throws -> ByteBuffer {
        do {
            return try await collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw HTTPError(
                .contentTooLarge, headers: [.connection: "close"],
                message: "the body is larger than \(limit) bytes")
        }
    }
}
