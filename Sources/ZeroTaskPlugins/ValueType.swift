import CFFI

/// A type a manifest may name for a typed method's param or return (DESIGN.md, "Plugins").
public enum ValueType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// No value; returns only.
    case void
    /// C `bool`; JSON `true`/`false`.
    case bool
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    /// C `float`; a JSON number or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    case float
    /// C `double`; a JSON number or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    case double
    /// A NUL-terminated UTF-8 `const char *`; a JSON string without NUL characters.
    case string
    /// Two C arguments, `const uint8_t *` and `size_t`; a base64 JSON string.
    case bytes
    /// A `zt_context *`; a C argument that is not a JSON param.
    case context

    public var description: String { rawValue }

    /// Types a param may have (all but `void`).
    public var isParamType: Bool { self != .void }
    /// Types a method may return (all but `context`).
    public var isReturnType: Bool { self != .context }
    /// Types whose returned pointer may be released with the plugin's `free` symbol.
    public var isPointerReturn: Bool { self == .string || self == .bytes }

    /// The accepted range of an integer type, as exact 64-bit bounds.
    var signedRange: ClosedRange<Int64>? {
        switch self {
        case .int8: Int64(Int8.min)...Int64(Int8.max)
        case .int16: Int64(Int16.min)...Int64(Int16.max)
        case .int32: Int64(Int32.min)...Int64(Int32.max)
        case .int64: Int64.min...Int64.max
        default: nil
        }
    }

    var unsignedRange: ClosedRange<UInt64>? {
        switch self {
        case .uint8: 0...UInt64(UInt8.max)
        case .uint16: 0...UInt64(UInt16.max)
        case .uint32: 0...UInt64(UInt32.max)
        case .uint64: 0...UInt64.max
        default: nil
        }
    }

    /// Whether the value comes from the JSON params (a `context` is supplied by the host).
    var isJSONParam: Bool { self != .context && self != .void }

    /// libffi's descriptor for one C argument or return of this type.
    ///
    /// C `bool` is passed as an unsigned byte, which is how the SysV and AAPCS ABIs treat `_Bool`.
    var ffiType: UnsafeMutablePointer<ffi_type> {
        switch self {
        case .void: zt_ffi_type_void()
        case .bool, .uint8: zt_ffi_type_uint8()
        case .int8: zt_ffi_type_sint8()
        case .int16: zt_ffi_type_sint16()
        case .uint16: zt_ffi_type_uint16()
        case .int32: zt_ffi_type_sint32()
        case .uint32: zt_ffi_type_uint32()
        case .int64: zt_ffi_type_sint64()
        case .uint64: zt_ffi_type_uint64()
        case .float: zt_ffi_type_float()
        case .double: zt_ffi_type_double()
        case .string, .bytes, .context: zt_ffi_type_pointer()
        }
    }

    /// What a JSON value of this type must be, for error messages.
    var expectation: String {
        if let r = signedRange { return "an integer in \(rawValue) range \(r.lowerBound)...\(r.upperBound)" }
        if let r = unsignedRange { return "an integer in \(rawValue) range \(r.lowerBound)...\(r.upperBound)" }
        switch self {
        case .bool: return "a boolean"
        case .float, .double: return "a number (or \"NaN\", \"Infinity\", \"-Infinity\")"
        case .string: return "a string"
        case .bytes: return "a base64 string"
        default: return rawValue
        }
    }
}
