import CFFI

/// A libffi call interface for one native function, prepared once at load.
///
/// `ffi_prep_cif` keeps a pointer to the argument type array, so the cif and the array live on
/// the heap for as long as this object (NOTES.md, "Swift 6 and C"). Immutable after init, so
/// concurrent calls are safe as far as libffi is concerned.
final class CallInterface: @unchecked Sendable {
    private let cif: UnsafeMutablePointer<ffi_cif>
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    private let function: @convention(c) () -> Void
    /// How many C arguments a call passes (`avalues` must hold this many).
    let argumentCount: Int

    /// Why libffi refused a signature.
    struct PreparationError: Error, CustomStringConvertible {
        var status: UInt32
        var description: String {
            switch status {
            case 1: "libffi rejected the signature (FFI_BAD_TYPEDEF)"
            case 2: "libffi rejected the calling convention (FFI_BAD_ABI)"
            default: "libffi could not prepare the call (status \(status))"
            }
        }
    }

    init(function: UnsafeMutableRawPointer, arguments: [UnsafeMutablePointer<ffi_type>],
         returns: UnsafeMutablePointer<ffi_type>) throws(PreparationError) {
        argumentCount = arguments.count
        cif = .allocate(capacity: 1)
        // Never zero-sized, so the pointer handed to libffi is always a real allocation.
        argumentTypes = .allocate(capacity: max(arguments.count, 1))
        for (i, t) in arguments.enumerated() { (argumentTypes + i).initialize(to: t) }
        self.function = unsafeBitCast(function, to: (@convention(c) () -> Void).self)
        let status = ffi_prep_cif(cif, FFI_DEFAULT_ABI, UInt32(arguments.count), returns, argumentTypes)
        guard status == FFI_OK else {
            cif.deallocate()
            argumentTypes.deallocate()
            throw PreparationError(status: status.rawValue)
        }
    }

    deinit {
        cif.deallocate()
        argumentTypes.deallocate()
    }

    /// Calls the function. `rvalue` must hold at least 8 bytes: libffi widens small integer
    /// returns to a full `ffi_arg`. Each `avalues[i]` points to storage of the i-th argument.
    @inline(__always)
    func call(rvalue: UnsafeMutableRawPointer, avalues: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
        ffi_call(cif, function, rvalue, avalues)
    }
}

extension ValueType {
    /// `size_t` for the length half of `bytes` and for the `size_t *out_len` of a bytes return.
    static var sizeTFFIType: UnsafeMutablePointer<ffi_type> {
        MemoryLayout<Int>.size == 8 ? zt_ffi_type_uint64() : zt_ffi_type_uint32()
    }
}

extension PluginMethod {
    /// Calls the prepared interface with ready-made argument slots, skipping every check:
    /// for the micro-benchmark only, to time libffi's share of a call.
    @_spi(Benchmarks)
    public func rawCall(avalues: UnsafeMutablePointer<UnsafeMutableRawPointer?>, rvalue: UnsafeMutableRawPointer) {
        callInterface.call(rvalue: rvalue, avalues: avalues)
    }
}
