import ZeroTaskProtocol

/// Workflows: tasks the broker runs as one, behind one handle (`client_new_workflow`).
extension ZeroTaskClient {
    /// Runs `steps` one after another on the broker: each step's result is passed to the next
    /// as its first param (so steps after the first take their params as a list), and the
    /// chain's result is the last step's. A failing step ends the chain with its error; cancelling
    /// the handle cancels the step that runs and the ones after it.
    ///
    /// ```swift
    /// let total = try await client.chain([TaskSpec("math.add", [1, 2]), TaskSpec("math.mul", [10])]).wait()  // 30
    /// ```
    /// - Parameter id: the workflow's own id (sent again after a lost reply, it is the same workflow).
    public func chain(_ steps: [TaskSpec], id: String? = nil) async throws -> TaskHandle {
        try await workflow("chain", steps, callback: nil, id: id)
    }

    /// Runs `tasks` at once; the handle's result is the list of their results, in order. With a
    /// `callback`, that list is passed to the callback as its first param once every task has
    /// succeeded, and the callback's result is the group's. A failing task ends the group with
    /// its error and cancels the others.
    public func group(_ tasks: [TaskSpec], callback: TaskSpec? = nil, id: String? = nil) async throws -> TaskHandle {
        try await workflow("group", tasks, callback: callback, id: id)
    }

    private func workflow(_ kind: String, _ tasks: [TaskSpec], callback: TaskSpec?, id: String?) async throws -> TaskHandle {
        var o = JSONObject()
        o.append("client_id", .string(clientID))
        o.append("kind", .string(kind))
        o.append("tasks", .array(tasks.map(\.json)))
        if let callback { o.append("callback", callback.json) }
        if let id { o.append("task_id", .string(id)) }
        let answer = try await rpc(.clientNewWorkflow, .named(o))
        guard let s = answer.stringValue else {
            throw ZeroTaskClientError.invalidResponse("client_new_workflow answered \(answer), not a task id")
        }
        return TaskHandle(id: s, client: self)
    }
}
