import ZeroTaskProtocol

/// Calling methods and submitting tasks.
extension ZeroTaskClient {
    /// Runs a method on some node and returns its result.
    ///
    /// Unlike `submit`, `call` first checks that a node advertises the method (from a list of
    /// served methods refreshed at most every 2 s) and fails fast with `.methodUnknown`
    /// otherwise, instead of queueing a task that may never be taken.
    ///
    /// - Parameter timeout: how long to wait for the result; at the deadline the task is
    ///   cancelled (nobody would read it) and `.timedOut` is thrown. Nil waits as long as it
    ///   takes. `options.timeout` is separate: the task's deadline on the node.
    /// - Throws: `.methodUnknown`, `.taskFailed` (with the task's code, message and data),
    ///   `.timedOut`, `.brokerUnreachable`, `.invalidRequest`.
    public func call(_ method: String, _ params: Params = .none, timeout: Duration? = nil,
        options: TaskOptions = TaskOptions()) async throws -> JSONValue
    {
        try await requireServed(method)
        let generated = options.taskID == nil && brokers.failsOver
        let options = resendable(options)
        // Submit and wait in one request (`client_call`): the broker answers when the task
        // completes. A long task outlives that first wait and is then waited for as usual.
        let start = MonotonicInstant.now()
        let firstWait = min(timeout?.seconds ?? Self.callWait, Self.callWait)
        var o = JSONObject()
        o.append("client_id", .string(clientID))
        o.append("method", .string(method))
        o.append("params", params.json)
        options.append(to: &o)
        o.append("wait", .double(firstWait))
        let task: TaskHandle
        do {
            let entry = try await rpc(.clientCall, .named(o), wait: firstWait)
            guard let id = entry["task_id"]?.stringValue else {
                throw ZeroTaskClientError.invalidResponse("client_call answered \(entry), not a task entry")
            }
            if entry["result"] != nil || entry["error"] != nil { return try TaskHandle.outcome(entry, id) }
            task = TaskHandle(id: id, client: self)
        } catch let error as ZeroTaskClientError where generated && Self.isTaken(error) {
            // Our own id, taken: the task was submitted before a failover. Wait for it.
            task = TaskHandle(id: "\(clientID)-\(options.taskID!)", client: self)
        } catch ZeroTaskClientError.unsupported {
            // A seed-only broker: submit, then wait by polling (see ResultWaiters).
            task = try await submit(method, params, options: options)
        }
        let id = task.id
        do {
            let left = timeout.map { Duration.seconds(max(0, $0.seconds - (MonotonicInstant.now() - start))) }
            if let left, left <= .zero { throw ZeroTaskClientError.timedOut(taskID: id, seconds: timeout!.seconds) }
            return try await task.wait(timeout: left)
        } catch let error as ZeroTaskClientError {
            if case .timedOut = error { _ = try? await task.cancel() }
            throw error
        } catch is CancellationError {
            // The caller gave up: free the worker, without delaying the caller.
            Task { _ = try? await task.cancel() }
            throw CancellationError()
        }
    }

    /// The longest `client_call` is held at the broker before `call` falls back to waiting.
    static let callWait = 25.0

    /// Runs a method and decodes its result into `T`.
    public func call<T: Decodable>(_ method: String, _ params: Params = .none, as type: T.Type,
        timeout: Duration? = nil, options: TaskOptions = TaskOptions()) async throws -> T
    {
        try await call(method, params, timeout: timeout, options: options).decode(as: T.self)
    }

    /// Queues a task (`client_new_task`) and returns its handle at once. The method need not be
    /// served yet: the task waits in its queue until a node for it connects.
    public func submit(_ method: String, _ params: Params = .none, options: TaskOptions = TaskOptions())
        async throws -> TaskHandle
    {
        let generated = options.taskID == nil && brokers.failsOver
        let options = resendable(options)
        let request: Params
        if options.fitsSeedForm {
            // By position, as the seed spec writes it: any broker reads that.
            var p: [JSONValue] = [.string(clientID), .string(method), params.json]
            if let t = options.taskID { p.append(.string(t)) }
            request = .positional(p)
        } else {
            var o = JSONObject()
            o.append("client_id", .string(clientID))
            o.append("method", .string(method))
            o.append("params", params.json)
            options.append(to: &o)
            request = .named(o)
        }
        let id: JSONValue
        do {
            id = try await rpc(.clientNewTask, request)
        } catch let error as ZeroTaskClientError where generated && Self.isTaken(error) {
            // Our own id, taken: the task was submitted before a failover (and has finished).
            return TaskHandle(id: "\(clientID)-\(options.taskID!)", client: self)
        }
        guard let s = id.stringValue else {
            throw ZeroTaskClientError.invalidResponse("client_new_task answered \(id), not a task id")
        }
        return TaskHandle(id: s, client: self)
    }

    /// Queues many tasks in few requests (`client_new_tasks`).
    /// - Returns: one entry per spec, in order: a handle, or the broker's error for that task.
    public func submitBatch(_ specs: [TaskSpec]) async throws -> [Result<TaskHandle, ZeroTaskClientError>] {
        var out: [Result<TaskHandle, ZeroTaskClientError>] = []
        out.reserveCapacity(specs.count)
        // Stay well under the broker's max_message_bytes (1 MiB by default).
        var chunk: [JSONValue] = []
        /// The task id this client generated for each entry of the chunk, if it did.
        var generatedIDs: [String?] = []
        var bytes = 0
        func flush() async throws {
            guard !chunk.isEmpty else { return }
            let answer: JSONValue
            do {
                answer = try await rpc(.clientNewTasks, .positional([.string(clientID), .array(chunk)]))
            } catch ZeroTaskClientError.unsupported {
                // A seed-only broker: one client_new_task per task, each with its own outcome.
                for spec in specs[out.count..<(out.count + chunk.count)] {
                    do {
                        out.append(.success(try await submit(spec.method, spec.params, options: spec.options)))
                    } catch let e as ZeroTaskClientError {
                        out.append(.failure(e))
                    }
                }
                chunk.removeAll(keepingCapacity: true)
                generatedIDs.removeAll(keepingCapacity: true)
                bytes = 0
                return
            }
            guard let list = answer.arrayValue, list.count == chunk.count else {
                throw ZeroTaskClientError.invalidResponse("client_new_tasks answered \(list(answer)) for \(chunk.count) tasks")
            }
            for (entry, generated) in zip(list, generatedIDs) {
                if let id = entry.stringValue {
                    out.append(.success(TaskHandle(id: id, client: self)))
                } else if let generated, let e = RPCError(json: entry), Self.isTaken(.invalidRequest(e)) {
                    // Our own id, taken: submitted before a failover.
                    out.append(.success(TaskHandle(id: "\(clientID)-\(generated)", client: self)))
                } else {
                    out.append(.failure(.invalidRequest(RPCError(json: entry) ?? RPCError(.internalError, "\(entry)"))))
                }
            }
            chunk.removeAll(keepingCapacity: true)
            generatedIDs.removeAll(keepingCapacity: true)
            bytes = 0
        }
        for var spec in specs {
            let given = spec.options.taskID
            spec.options = resendable(spec.options)
            let json = spec.json
            let size = json.jsonBytes.count
            if !chunk.isEmpty && (bytes + size > 256 << 10 || chunk.count >= 1000) { try await flush() }
            chunk.append(json)
            generatedIDs.append(given == nil ? spec.options.taskID : nil)
            bytes += size + 1
        }
        try await flush()
        return out
    }

    /// The handle of a task submitted earlier under this client id.
    public func task(_ id: String) -> TaskHandle { TaskHandle(id: id, client: self) }

    private func list(_ v: JSONValue) -> String {
        let s = v.jsonString
        return s.count > 200 ? String(s.prefix(200)) + "…" : s
    }
}
