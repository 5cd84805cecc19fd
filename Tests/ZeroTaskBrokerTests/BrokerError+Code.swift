@testable import ZeroTaskBroker

extension BrokerError {
    /// The JSON-RPC code `body` is refused with, or nil when it goes through: registry tests
    /// compare codes, as a client would see them.
    static func code(of body: () throws(BrokerError) -> Void) -> Int64? {
        do throws(BrokerError) {
            try body()
            return nil
        } catch {
            return error.rpcError.code
        }
    }
}
