import ZeroTaskProtocol

extension PluginMethod {
    /// Turns a typed method's raw return into JSON: narrows widened integers, copies strings and
    /// bytes, and hands returned pointers to the plugin's `free` symbol when it has one.
    func decode(_ type: ValueType, rvalue: UnsafeRawPointer, length: Int, free: FreeFunction?) -> Result<JSONValue, RPCError> {
        // Small integer returns arrive widened to a full ffi_arg; keep only the declared width.
        let raw = rvalue.load(as: UInt64.self)
        switch type {
        case .void: return .success(.null)
        case .bool: return .success(.bool(UInt8(truncatingIfNeeded: raw) != 0))
        case .int8: return .success(.int(Int64(Int8(truncatingIfNeeded: raw))))
        case .int16: return .success(.int(Int64(Int16(truncatingIfNeeded: raw))))
        case .int32: return .success(.int(Int64(Int32(truncatingIfNeeded: raw))))
        case .int64: return .success(.int(Int64(bitPattern: raw)))
        case .uint8: return .success(.int(Int64(UInt8(truncatingIfNeeded: raw))))
        case .uint16: return .success(.int(Int64(UInt16(truncatingIfNeeded: raw))))
        case .uint32: return .success(.int(Int64(UInt32(truncatingIfNeeded: raw))))
        case .uint64: return .success(JSONValue(raw))
        case .float: return .success(.double(Self.widen(rvalue.load(as: Float.self))))
        case .double: return .success(.double(rvalue.load(as: Double.self)))
        case .string:
            guard let p = rvalue.load(as: UnsafeMutablePointer<CChar>?.self) else { return .success(.null) }
            defer { free?(UnsafeMutableRawPointer(p)) }
            guard let s = String(validatingCString: p) else {
                return .failure(RPCError(code: Self.failureCode, message: "\(name) returned a string that is not valid UTF-8"))
            }
            return .success(.string(s))
        case .bytes:
            guard let p = rvalue.load(as: UnsafeMutableRawPointer?.self) else { return .success(.string("")) }
            defer { free?(p) }
            return .success(.string(Base64.encode(UnsafeRawBufferPointer(start: p, count: length))))
        case .context:
            preconditionFailure("context is not a return type")  // refused by the manifest parser
        }
    }

    /// A float as the double a person would write for it (0.1, not 0.10000000149011612).
    static func widen(_ f: Float) -> Double {
        guard f.isFinite else { return Double(f) }
        return Double(f.description) ?? Double(f)
    }
}
