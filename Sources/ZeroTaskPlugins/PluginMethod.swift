import CFFI
import Logging
import ZeroTaskProtocol

/// One callable method of a loaded plugin, with its call interface prepared at load.
///
/// `invoke` checks every param against the manifest before anything native runs, then calls the
/// function on the caller's thread (a blocking call: run it off the cooperative pool, or in a
/// worker process as the node does).
public final class PluginMethod: @unchecked Sendable {
    /// The error code of a plugin failure that carries no code of its own (a non-zero return,
    /// invalid JSON result): -32000, the first of JSON-RPC's implementation-defined server errors.
    public static let failureCode: Int64 = -32000

    typealias FreeFunction = @convention(c) (UnsafeMutableRawPointer?) -> Void

    enum Kind {
        case typed(TypedSignature, free: FreeFunction?)
        /// With the declared params to check first, if the manifest declares any.
        case json(JSONParamSignature?)
    }

    /// The method's name, signature and doc, as advertised.
    public let descriptor: MethodDescriptor
    public var name: String { descriptor.name }
    let kind: Kind
    let callInterface: CallInterface
    /// Held so that the library outlives every method that calls into it.
    private let library: DynamicLibrary
    private let logger: Logger

    init(descriptor: MethodDescriptor, kind: Kind, callInterface: CallInterface, library: DynamicLibrary, logger: Logger) {
        self.descriptor = descriptor
        self.kind = kind
        self.callInterface = callInterface
        self.library = library
        self.logger = logger
    }

    /// Checks `params` against the manifest and calls the native function.
    ///
    /// - Returns: the result as JSON, or an error: -32602 naming the param that does not fit, the
    ///   plugin's own error (`ctx->fail`), or `failureCode` for a failure without a message.
    public func invoke(_ params: Params, host: PluginTaskHost? = nil) -> Result<JSONValue, RPCError> {
        switch kind {
        case .typed(let signature, let free): return invokeTyped(signature, free: free, params, host: host)
        case .json(let signature):
            if let signature {
                do throws(RPCError) { try signature.check(params) } catch { return .failure(error) }
            }
            return invokeJSON(params, host: host)
        }
    }

    /// Invokes with params given as JSON text (an array or an object), as they come off the wire.
    public func invoke(paramsJSON bytes: UnsafeRawBufferPointer, host: PluginTaskHost? = nil) -> Result<JSONValue, RPCError> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            return .failure(RPCError(.parseError, "\(name): params are not JSON: \(error)"))
        }
        guard let params = Params(json: value) else {
            return .failure(.invalidParams("\(name): params must be an array or an object, not \(value.typeName)"))
        }
        return invoke(params, host: host)
    }

    // MARK: JSON methods

    private func invokeJSON(_ params: Params, host: PluginTaskHost?) -> Result<JSONValue, RPCError> {
        var text = params.json.jsonBytes
        let length = text.count
        text.append(0)  // the SDK promises a NUL-terminated string as well as the length
        let context = PluginCallContext(method: name, host: host, logger: logger)
        let status: Int32 = context.withContext { ctx in
            text.withUnsafeMutableBytes { textBytes in
                var ctxArg: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(ctx)
                var textArg: UnsafeMutableRawPointer? = textBytes.baseAddress
                var lengthArg = length
                var rvalue: UInt64 = 0  // int is widened to ffi_arg
                withUnsafeMutablePointer(to: &ctxArg) { a0 in
                    withUnsafeMutablePointer(to: &textArg) { a1 in
                        withUnsafeMutablePointer(to: &lengthArg) { a2 in
                            var avalues: (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) = (
                                UnsafeMutableRawPointer(a0), UnsafeMutableRawPointer(a1), UnsafeMutableRawPointer(a2)
                            )
                            withUnsafeMutablePointer(to: &avalues) { av in
                                av.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 3) { callInterface.call(rvalue: &rvalue, avalues: $0) }
                            }
                        }
                    }
                }
                return Int32(truncatingIfNeeded: rvalue)
            }
        }
        return context.finish(status: status)
    }

    // MARK: Typed methods

    private func invokeTyped(_ sig: TypedSignature, free: FreeFunction?, _ params: Params,
                             host: PluginTaskHost?) -> Result<JSONValue, RPCError> {
        let count = max(sig.slotCount, 1)
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: count) { slotBuffer in
            let slots = slotBuffer.baseAddress!  // capacity >= 1
            slots.initialize(repeating: 0, count: count)
            var arena: [UInt8] = []
            do throws(RPCError) {
                try sig.encode(params, into: slots, arena: &arena)
            } catch {
                return .failure(error)
            }
            if sig.needsArena && arena.isEmpty { arena.append(0) }  // a real address even for empty bytes
            return arena.withUnsafeMutableBytes { arenaBytes in
                if let base = arenaBytes.baseAddress {
                    for s in sig.arenaSlots { slots[s] = UInt64(UInt(bitPattern: base + Int(slots[s]))) }
                }
                return withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: count) { avalues in
                    for i in 0..<sig.slotCount { avalues[i] = UnsafeMutableRawPointer(slots + i) }
                    let av = avalues.baseAddress!
                    guard sig.needsContext else { return callTyped(sig, free: free, slots: slots, avalues: av) }
                    let context = PluginCallContext(method: name, host: host, logger: logger)
                    return context.withContext { ctx in
                        for s in sig.contextSlots { slots[s] = UInt64(UInt(bitPattern: ctx)) }
                        let result = callTyped(sig, free: free, slots: slots, avalues: av)
                        guard case .success = result else { return result }
                        // A typed method with a context may still fail through ctx->fail; its
                        // return value is its result, so set_result is not consulted.
                        if let failure = context.outcome.withLock({ $0.failure }) { return .failure(failure) }
                        return result
                    }
                }
            }
        }
    }

    @inline(__always)
    private func callTyped(_ sig: TypedSignature, free: FreeFunction?, slots: UnsafeMutablePointer<UInt64>,
                           avalues: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Result<JSONValue, RPCError> {
        var outLength = 0
        return withUnsafeMutablePointer(to: &outLength) { outLengthPointer in
            if let s = sig.outLengthSlot { slots[s] = UInt64(UInt(bitPattern: outLengthPointer)) }
            // 16 bytes: libffi widens small integers to ffi_arg (8 bytes); narrowed in `decode`.
            var rvalue: (UInt64, UInt64) = (0, 0)
            return withUnsafeMutableBytes(of: &rvalue) { r in
                callInterface.call(rvalue: r.baseAddress!, avalues: avalues)
                return decode(sig.returns.type, rvalue: UnsafeRawPointer(r.baseAddress!), length: outLengthPointer.pointee, free: free)
            }
        }
    }
}
