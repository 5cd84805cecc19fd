import ZeroTaskProtocol

/// How a method is called: a typed C function through libffi, or the JSON-in, context-out ABI.
public enum MethodABI: String, Sendable {
    /// `returns fn(params…)`, called through a prepared libffi call interface.
    case c
    /// `int fn(zt_context *ctx, const char *params, size_t len)`.
    case json
}

/// One declared param of a method.
public struct ParamSpec: Sendable, Equatable {
    /// The JSON name (for params by name and in error messages); `context` params may omit it.
    public var name: String
    /// The C type; nil for a JSON method's param of a JSON kind (`number`, `array`, `object`, `any`).
    public var type: ValueType?
    /// The type as the manifest wrote it (`"any"` when a JSON method's param gives none).
    public var typeName: String

    public init(name: String, type: ValueType?, typeName: String) {
        self.name = name
        self.type = type
        self.typeName = typeName
    }
}

/// A typed method's return: its type and, for strings and bytes, the symbol that frees it.
public struct ReturnSpec: Sendable, Equatable {
    public var type: ValueType
    /// `void NAME(void *)` in the plugin; nil means the returned pointer is borrowed.
    public var freeSymbol: String?

    public init(type: ValueType, freeSymbol: String? = nil) {
        self.type = type
        self.freeSymbol = freeSymbol
    }

    public static let void = ReturnSpec(type: .void, freeSymbol: nil)
}

/// One method as its manifest declares it.
public struct MethodManifest: Sendable, Equatable {
    public var name: String
    public var symbol: String
    public var abi: MethodABI
    /// Declared params in C order, `context` included. For JSON methods: checked before the call
    /// when declared.
    public var params: [ParamSpec]
    public var returns: ReturnSpec
    /// The method's default deadline in seconds.
    public var timeout: Double?
    public var doc: String?
    /// The sandbox limits declared for this method: its plugin's, with the method's own `limits` over them.
    public var limits = SandboxLimits()
    /// Retries, concurrency and rate declared for this method: its plugin's, with the method's
    /// own fields over them.
    public var policy = MethodPolicy.none

    static let fields = Set(["name", "symbol", "abi", "params", "returns", "timeout", "doc", "limits"] + MethodPolicy.fields)

    static func parse(_ json: JSONValue, field f: String, pluginLimits: SandboxLimits, pluginPolicy: MethodPolicy = .none,
                      reader r: ManifestReader) throws(PluginProblem) -> MethodManifest {
        guard case .object(let o) = json else { throw r.problem(nil, f, "a method must be a JSON object, not \(json.typeName)") }
        let name = try r.string(o, "name", in: f)
        guard Identifier.isValidMethodName(name) else {
            throw r.problem(name, "\(f).name", "bad method name (letters, digits, '_', '.', '-'; at most 128; not starting with a digit)")
        }
        guard !Identifier.isReservedMethodName(name) else {
            throw r.problem(name, "\(f).name", "the \"zerotask.\" namespace is reserved")
        }
        for key in o.keys where !fields.contains(key) {
            throw r.problem(name, "\(f).\(key)", "unknown field (known: \(fields.sorted().joined(separator: ", ")))")
        }
        guard let symbol = try r.optionalSymbol(o, "symbol", in: f, method: name) else {
            throw r.problem(name, "\(f).symbol", "missing")
        }
        let abiName = try r.optionalString(o, "abi", in: f, method: name) ?? "c"
        guard let abi = MethodABI(rawValue: abiName) else {
            throw r.problem(name, "\(f).abi", "unknown method ABI \"\(abiName)\" (expected \"c\" or \"json\")")
        }
        var m = MethodManifest(name: name, symbol: symbol, abi: abi, params: [], returns: .void, timeout: nil,
                               doc: try r.optionalString(o, "doc", in: f, method: name))
        if let t = o["timeout"] {
            guard let seconds = t.doubleValue, seconds > 0, seconds.isFinite else {
                throw r.problem(name, "\(f).timeout", "must be a positive number of seconds, not \(t)")
            }
            m.timeout = seconds
        }
        m.limits = pluginLimits.overridden(by: try SandboxLimits.parse(o["limits"], field: "\(f).limits", method: name, reader: r))
        m.policy = pluginPolicy.overridden(by: try r.policy(o, in: f, method: name))
        m.params = try parseParams(o["params"], field: "\(f).params", method: name, abi: abi, reader: r)
        if let ret = o["returns"] {
            guard abi == .c else {
                throw r.problem(name, "\(f).returns", "a JSON method returns through ctx->set_result; remove \"returns\"")
            }
            m.returns = try parseReturns(ret, field: "\(f).returns", method: name, reader: r)
        }
        return m
    }

    private static func parseParams(_ v: JSONValue?, field f: String, method: String, abi: MethodABI,
                                    reader r: ManifestReader) throws(PluginProblem) -> [ParamSpec] {
        guard let v else { return [] }
        guard case .array(let list) = v else { throw r.problem(method, f, "must be an array, not \(v.typeName)") }
        var params: [ParamSpec] = []
        var names: Set<String> = []
        for (i, p) in list.enumerated() {
            let pf = "\(f)[\(i)]"
            guard case .object(let o) = p else { throw r.problem(method, pf, "a param must be an object {\"name\", \"type\"}") }
            for key in o.keys where key != "name" && key != "type" && key != "doc" {
                throw r.problem(method, "\(pf).\(key)", "unknown field (known: doc, name, type)")
            }
            let type: ValueType?
            let typeName: String
            if abi == .json {
                // Checked before the call: a C type by the typed rules, or a JSON kind.
                typeName = try r.optionalString(o, "type", in: pf, method: method) ?? "any"
                if let t = ValueType(rawValue: typeName), t.isJSONParam {
                    type = t
                } else if JSONParamSignature.kinds[typeName] != nil {
                    type = nil
                } else {
                    let known = ValueType.allCases.filter(\.isJSONParam).map(\.rawValue) + JSONParamSignature.kinds.keys.sorted()
                    throw r.problem(method, "\(pf).type", "unknown type \"\(typeName)\" (expected one of \(known.joined(separator: ", ")))")
                }
            } else {
                let written = try r.string(o, "type", in: pf, method: method)
                guard let t = ValueType(rawValue: written), t.isParamType else {
                    let known = ValueType.allCases.filter(\.isParamType).map(\.rawValue).joined(separator: ", ")
                    throw r.problem(method, "\(pf).type", "unknown type \"\(written)\" (expected one of \(known))")
                }
                type = t
                typeName = written
            }
            let name = try r.optionalString(o, "name", in: pf, method: method) ?? (type == .context ? "context" : "")
            guard ManifestReader.isCIdentifier(name) else {
                throw r.problem(method, "\(pf).name", name.isEmpty ? "missing" : "bad param name \"\(name)\"")
            }
            guard names.insert(name).inserted else { throw r.problem(method, "\(pf).name", "duplicate param name \"\(name)\"") }
            params.append(ParamSpec(name: name, type: type, typeName: typeName))
        }
        return params
    }

    private static func parseReturns(_ v: JSONValue, field f: String, method: String,
                                     reader r: ManifestReader) throws(PluginProblem) -> ReturnSpec {
        let typeName: String
        var free: String?
        switch v {
        case .string(let s):
            typeName = s
        case .object(let o):
            for key in o.keys where key != "type" && key != "free" {
                throw r.problem(method, "\(f).\(key)", "unknown field (known: free, type)")
            }
            typeName = try r.string(o, "type", in: f, method: method)
            free = try r.optionalSymbol(o, "free", in: f, method: method)
        default:
            throw r.problem(method, f, "must be a type name or {\"type\", \"free\"}, not \(v.typeName)")
        }
        guard let type = ValueType(rawValue: typeName), type.isReturnType else {
            let known = ValueType.allCases.filter(\.isReturnType).map(\.rawValue).joined(separator: ", ")
            throw r.problem(method, f.hasSuffix("returns") && v.stringValue != nil ? f : "\(f).type",
                            "unknown type \"\(typeName)\" (expected one of \(known))")
        }
        if free != nil && !type.isPointerReturn {
            throw r.problem(method, "\(f).free", "only string and bytes returns can be freed, not \(type)")
        }
        return ReturnSpec(type: type, freeSymbol: free)
    }
}
