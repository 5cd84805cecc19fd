import CFFI
import Logging
import Synchronization
import ZeroTaskProtocol

/// The host side of one call's `zt_context`: it receives the plugin's callbacks.
///
/// The context's `host` field points at this object (unretained; the caller keeps it alive for
/// the call). Callbacks may arrive from any plugin thread, so the outcome sits behind a mutex.
final class PluginCallContext: Sendable {
    /// What the callbacks have reported so far.
    struct Outcome {
        var result: JSONValue?
        /// set_result was called with text that is not JSON (cleared by a later valid result).
        var invalidResult: String?
        var failure: RPCError?
    }

    let method: String
    let host: PluginTaskHost?
    let logger: Logger
    let outcome = Mutex(Outcome())

    init(method: String, host: PluginTaskHost?, logger: Logger) {
        self.method = method
        self.host = host
        self.logger = logger
    }

    /// Runs `body` with a `zt_context` whose callbacks land here; the context is valid only inside.
    func withContext<R>(_ body: (UnsafeMutablePointer<zt_context>) -> R) -> R {
        var ctx = zt_context(
            abi: UInt32(ZEROTASK_PLUGIN_ABI),
            size: UInt32(MemoryLayout<zt_context>.size),
            host: Unmanaged.passUnretained(self).toOpaque(),
            set_result: { ctx, json, len in
                guard let me = PluginCallContext.from(ctx) else { return -1 }
                return me.setResult(json, len)
            },
            fail: { ctx, code, message in
                guard let me = PluginCallContext.from(ctx) else { return -1 }
                me.fail(code, message.map { String(cString: $0) })
                return 0
            },
            progress: { ctx, fraction, message in
                guard let me = PluginCallContext.from(ctx) else { return }
                let clamped = fraction.isNaN ? 0 : min(max(fraction, 0), 1)
                me.host?.progress(clamped, message.map { String(cString: $0) })
            },
            cancelled: { ctx in
                guard let me = PluginCallContext.from(ctx) else { return 0 }
                return me.host?.isCancelled == true ? 1 : 0
            },
            log: { ctx, level, message in
                guard let me = PluginCallContext.from(ctx), let message else { return }
                me.log(Logger.Level(pluginLevel: level), String(cString: message))
            }
        )
        return withExtendedLifetime(self) { body(&ctx) }
    }

    /// The object behind a context pointer the plugin hands back; nil for a null or foreign pointer.
    private static func from(_ ctx: UnsafeMutablePointer<zt_context>?) -> PluginCallContext? {
        guard let ctx, let host = ctx.pointee.host else { return nil }
        return Unmanaged<PluginCallContext>.fromOpaque(host).takeUnretainedValue()
    }

    private func setResult(_ json: UnsafePointer<CChar>?, _ len: Int) -> Int32 {
        guard let json else {
            outcome.withLock { $0.invalidResult = "set_result was called with a null pointer" }
            return -1
        }
        do {
            let value = try JSONValue.parse(UnsafeRawBufferPointer(start: json, count: len))
            outcome.withLock {
                $0.result = value
                $0.invalidResult = nil
            }
            return 0
        } catch {
            outcome.withLock { $0.invalidResult = "set_result was given invalid JSON: \(error)" }
            return -1
        }
    }

    private func fail(_ code: Int32, _ message: String?) {
        let error = RPCError(
            code: code == 0 ? PluginMethod.failureCode : Int64(code),
            message: message.flatMap { $0.isEmpty ? nil : $0 } ?? "\(method) failed"
        )
        outcome.withLock { if $0.failure == nil { $0.failure = error } }
    }

    private func log(_ level: Logger.Level, _ message: String) {
        if let host {
            host.log(level: level, message)
        } else {
            logger.log(level: level, "\(message)", metadata: ["method": "\(method)"])
        }
    }

    /// A JSON method's outcome after it returned `status`: fail wins, then a non-zero status,
    /// then an invalid result; no result at all is `null`.
    func finish(status: Int32) -> Result<JSONValue, RPCError> {
        let o = outcome.withLock { $0 }
        if let failure = o.failure { return .failure(failure) }
        if status != 0 {
            return .failure(RPCError(code: PluginMethod.failureCode, message: "\(method) failed (it returned \(status) without a message)"))
        }
        if let invalid = o.invalidResult {
            return .failure(RPCError(code: PluginMethod.failureCode, message: "\(method): \(invalid)"))
        }
        return .success(o.result ?? .null)
    }
}
