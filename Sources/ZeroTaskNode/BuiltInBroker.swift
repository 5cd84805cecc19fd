import ZeroMQ
import ZeroTaskProtocol

/// A broker that the node's own loop serves and calls directly (`zerotask node --broker
/// builtin`): no socket and no thread between node and broker.
///
/// The node owns this seam and knows no broker type: the executable conforms the broker
/// module's `EmbeddedBroker` to it and hands one to `NodeService`. Every call comes from the
/// node's thread.
public protocol BuiltInBroker: AnyObject, Sendable {
    /// Adds the broker's sockets and descriptors to the node's poller, after the node's own items.
    func addPollItems(to poller: inout ZMQPoller)

    /// Milliseconds the node may block in its poll before the broker's next timer, at most `cap`.
    func pollTimeout(cap: Int) -> Int

    /// Whether something waits to go out or to be taken: the node's poll must not block.
    var hasOutputReady: Bool { get }

    /// Serves what arrived, given the events of the broker's items from the node's last poll.
    func step(_ ready: ArraySlice<ZMQPoller.Events>)

    /// Makes the node a local peer that receives the notifications starting with these prefixes.
    func subscribeLocal(_ prefixes: [String])

    /// Handles one request from the node, typed as the node's state machine made it (no JSON
    /// params); `id` nil: a notification. Its reply (a `Response` with that id) comes out of
    /// `takeLocalMessages` after a later `step`.
    func handleLocal(_ request: NodeRequest, id: Int64?)

    /// What the broker sent the node since the last call, in order: replies, and notifications
    /// as published.
    func takeLocalMessages() -> (replies: [Response], notifications: [[UInt8]])

    /// Stops serving: pending commits, sockets and store are closed. Called once the node stops.
    func finish()
}
