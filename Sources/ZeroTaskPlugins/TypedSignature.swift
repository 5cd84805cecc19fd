import CFFI
import ZeroTaskProtocol

/// Where each declared param of a typed method goes among the C arguments, worked out once at load.
///
/// Every C argument has an 8-byte slot; a value is stored at the start of its slot and libffi reads
/// it with the slot's ffi type. `bytes` takes two slots (pointer, length); a bytes return adds a
/// trailing `size_t *out_len` slot.
struct TypedSignature: Sendable {
    /// A param that comes from the JSON params.
    struct JSONParam: Sendable {
        var name: String
        var type: ValueType
        /// The first C slot of the value.
        var slot: Int
    }

    let method: String
    let jsonParams: [JSONParam]
    /// Slots that take the call's `zt_context *`.
    let contextSlots: [Int]
    /// Slots that hold an offset into the call's arena until just before the call, then a pointer.
    let arenaSlots: [Int]
    /// The trailing `size_t *out_len` slot of a bytes return.
    let outLengthSlot: Int?
    let slotCount: Int
    /// The C argument types in order; `nil` stands for `size_t`.
    private let cArguments: [ValueType?]
    let returns: ReturnSpec
    /// `(a: int64, b: int64)`, for error messages.
    let listing: String
    /// The JSON params' names, in order.
    let names: [String]

    init(_ m: MethodManifest) {
        method = m.name
        var json: [JSONParam] = []
        var contexts: [Int] = []
        var arena: [Int] = []
        var ffi: [ValueType?] = []
        for p in m.params {
            let type = p.type ?? .context
            let slot = ffi.count
            switch type {
            case .context: contexts.append(slot)
            case .string: arena.append(slot)
            case .bytes: arena.append(slot)
            default: break
            }
            if type.isJSONParam { json.append(JSONParam(name: p.name, type: type, slot: slot)) }
            ffi.append(type)
            if type == .bytes { ffi.append(nil) }
        }
        if m.returns.type == .bytes {
            outLengthSlot = ffi.count
            ffi.append(.context)  // any pointer
        } else {
            outLengthSlot = nil
        }
        jsonParams = json
        contextSlots = contexts
        arenaSlots = arena
        slotCount = ffi.count
        cArguments = ffi
        returns = m.returns
        names = json.map(\.name)
        listing = "(" + json.map { "\($0.name): \($0.type)" }.joined(separator: ", ") + ")"
    }

    /// libffi's argument types, for preparing the call interface.
    var ffiArguments: [UnsafeMutablePointer<ffi_type>] { cArguments.map { $0?.ffiType ?? ValueType.sizeTFFIType } }

    var needsArena: Bool { !arenaSlots.isEmpty }
    var needsContext: Bool { !contextSlots.isEmpty }

    /// Checks every param and stores it in its slot; strings and bytes go to `arena`.
    /// Nothing is called here, so a param that fails a check never reaches native code.
    func encode(_ params: Params, into slots: UnsafeMutablePointer<UInt64>, arena: inout [UInt8]) throws(RPCError) {
        try ParamMatch.forEach(params, names: names, method: method, listing: listing) { (i, v) throws(RPCError) in
            try encode(v, as: jsonParams[i], into: slots, arena: &arena)
        }
    }

    private func invalid(_ p: JSONParam, _ v: JSONValue) -> RPCError {
        let shown: String
        switch v {
        case .int, .uint, .double: shown = v.jsonString
        default: shown = v.typeName
        }
        return .invalidParams("\(method): param \"\(p.name)\" must be \(p.type.expectation), not \(shown)")
    }

    private func encode(_ v: JSONValue, as p: JSONParam, into slots: UnsafeMutablePointer<UInt64>,
                        arena: inout [UInt8]) throws(RPCError) {
        let slot = UnsafeMutableRawPointer(slots + p.slot)
        switch p.type {
        case .bool:
            guard case .bool(let b) = v else { throw invalid(p, v) }
            slot.storeBytes(of: b ? 1 : 0, as: UInt8.self)
        case .int8, .int16, .int32, .int64:
            guard let i = Self.exactSigned(v), let r = p.type.signedRange, r.contains(i) else { throw invalid(p, v) }
            switch p.type {
            case .int8: slot.storeBytes(of: Int8(i), as: Int8.self)
            case .int16: slot.storeBytes(of: Int16(i), as: Int16.self)
            case .int32: slot.storeBytes(of: Int32(i), as: Int32.self)
            default: slot.storeBytes(of: i, as: Int64.self)
            }
        case .uint8, .uint16, .uint32, .uint64:
            guard let u = Self.exactUnsigned(v), let r = p.type.unsignedRange, r.contains(u) else { throw invalid(p, v) }
            switch p.type {
            case .uint8: slot.storeBytes(of: UInt8(u), as: UInt8.self)
            case .uint16: slot.storeBytes(of: UInt16(u), as: UInt16.self)
            case .uint32: slot.storeBytes(of: UInt32(u), as: UInt32.self)
            default: slot.storeBytes(of: u, as: UInt64.self)
            }
        case .float:
            guard let d = Self.real(v) else { throw invalid(p, v) }
            let f = Float(d)
            guard f.isFinite || !d.isFinite else {
                throw .invalidParams("\(method): param \"\(p.name)\" must be within float range ±\(Float.greatestFiniteMagnitude), not \(v.jsonString)")
            }
            slot.storeBytes(of: f, as: Float.self)
        case .double:
            guard let d = Self.real(v) else { throw invalid(p, v) }
            slot.storeBytes(of: d, as: Double.self)
        case .string:
            guard case .string(let s) = v else { throw invalid(p, v) }
            let offset = arena.count
            arena.append(contentsOf: s.utf8)
            if let nul = arena[offset...].firstIndex(of: 0) {
                throw .invalidParams("\(method): param \"\(p.name)\" must not contain a NUL character (found at byte \(nul - offset))")
            }
            arena.append(0)
            slots[p.slot] = UInt64(offset)
        case .bytes:
            guard case .string(let s) = v else { throw invalid(p, v) }
            let offset = arena.count
            do {
                try Base64.decode(s, appendingTo: &arena)
            } catch {
                throw .invalidParams("\(method): param \"\(p.name)\" must be base64 bytes: \(error)")
            }
            slots[p.slot] = UInt64(offset)
            slots[p.slot + 1] = UInt64(arena.count - offset)
        case .void, .context:
            preconditionFailure("not a JSON param")  // excluded when the signature is built
        }
    }

    /// Integers must be exact: a JSON integer, or a number with no fraction small enough that a
    /// double holds it exactly (some encoders write `3.0` for 3).
    static func exactSigned(_ v: JSONValue) -> Int64? {
        switch v {
        case .int(let i): return i
        case .double(let d) where d.rounded(.towardZero) == d && abs(d) <= 9_007_199_254_740_992: return Int64(d)
        default: return nil
        }
    }

    static func exactUnsigned(_ v: JSONValue) -> UInt64? {
        switch v {
        case .int(let i) where i >= 0: return UInt64(i)
        case .uint(let u): return u
        case .double(let d) where d.rounded(.towardZero) == d && d >= 0 && d <= 9_007_199_254_740_992: return UInt64(d)
        default: return nil
        }
    }

    /// A real number: any JSON number, or the strings JSONWriter uses for non-finite doubles.
    static func real(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .uint(let u): return Double(u)
        case .double(let d): return d
        case .string("NaN"): return .nan
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        default: return nil
        }
    }
}
