import ZeroTaskProtocol

/// The reply to a JSON-RPC batch, kept within `max_message_bytes`: a batch of small requests
/// must not make the broker build (and the peer receive) an answer many times larger.
///
/// Answers are encoded as they come. One that would pass the limit is replaced by an error
/// (what it did stays done: a result can be read again alone), and the entries after it are
/// not handled at all. Room is kept for those short errors, so only request ids longer than
/// `reservePerEntry` can take the reply past the limit (by no more than the request's own size).
struct BatchReply {
    static let reservePerEntry = 128
    static let notHandled = RPCError(.invalidRequest, "not handled: the batch reply reached max_message_bytes; send this request again")
    static let tooLarge = RPCError(.invalidRequest, "answer dropped: it would take the batch reply past max_message_bytes; send this request alone")

    private var bytes: [UInt8] = [UInt8(ascii: "[")]
    private var count = 0
    private let budget: Int
    private(set) var isFull = false

    init(limit: Int, entries: Int) {
        budget = limit - entries * Self.reservePerEntry
    }

    mutating func append(_ response: Response) {
        var encoded = response.json.jsonBytes
        if !isFull && bytes.count + encoded.count + 1 > budget {
            isFull = true
            encoded = Response(id: response.id, error: Self.tooLarge).json.jsonBytes
        }
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes += encoded
        count += 1
    }

    /// The encoded array; nil when no entry needs an answer (all notifications).
    var body: [UInt8]? {
        guard count > 0 else { return nil }
        return bytes + [UInt8(ascii: "]")]
    }
}
