import ZeroTaskProtocol

/// Calls with Swift values for params and results: a struct (named params) or an array
/// (positional) goes in, any `Decodable` comes out.
///
///     struct Pair: Encodable { var a: Int; var b: Int }
///     let sum = try await client.call("math.add", with: Pair(a: 2, b: 3), as: Int.self)
///     let same = try await client.call("math.add", with: [2, 3], as: Int.self)
extension ZeroTaskClient {
    /// Runs a method with `params` encoded as JSON and decodes its result into `R`.
    /// - Throws: `.invalidArgument` when `params` is not an object or array in JSON, then what
    ///   `call(_:_:timeout:options:)` throws, and `.invalidResponse` when the result does not decode.
    public func call<P: Encodable, R: Decodable>(_ method: String, with params: P, as type: R.Type = R.self,
        timeout: Duration? = nil, options: TaskOptions = TaskOptions()) async throws -> R
    {
        try await call(method, Params(encoding: params), timeout: timeout, options: options).decode(as: R.self)
    }

    /// Queues a task with `params` encoded as JSON (see `submit(_:_:options:)`).
    public func submit<P: Encodable>(_ method: String, with params: P, options: TaskOptions = TaskOptions())
        async throws -> TaskHandle
    {
        try await submit(method, Params(encoding: params), options: options)
    }
}
