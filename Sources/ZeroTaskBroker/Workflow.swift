import ZeroTaskProtocol

/// A workflow: tasks the broker runs for a client as one, behind one task id (the workflow's
/// own record, method `zerotask.workflow`, which no node ever runs).
///
/// - A **chain** runs its steps one after another; each step's result goes to the next step as
///   its first param, and the chain's result is the last step's. A step that fails ends the
///   chain with that step's error.
/// - A **group** runs its tasks at once; its result is the array of their results, in order. A
///   task that fails ends the group with its error and cancels the others.
/// - A group with a **callback** runs the callback once every task has succeeded, with the
///   array of results as its first param; the workflow's result is the callback's.
///
/// Everything about a workflow lives in its record's params (the definition, the ids of the
/// tasks started so far, a group's results gathered so far), so the record the store already
/// keeps is enough to carry on after a restart. Its tasks are ordinary tasks of the same client,
/// with ids derived from the workflow's: `WORKFLOW.1`, `WORKFLOW.2`, …, `WORKFLOW.callback`.
struct Workflow: Sendable, Equatable {
    /// The method of a workflow's own record.
    static let method = "zerotask.workflow"

    enum Kind: String, Sendable { case chain, group }

    var kind: Kind
    /// The steps (chain) or tasks (group), each a submission's named params (`method`,
    /// `params`, `timeout`, …) as the client gave them, read again by `Submission` when the
    /// task is submitted: whatever a submission may carry, a workflow's task may carry too.
    var tasks: [JSONObject]
    /// A group's callback, in the same form.
    var callback: JSONObject?
    /// The ids of the tasks started so far, in order (the callback's last).
    var children: [String] = []
    /// A group's results so far, by position (null while a task runs).
    var results: [JSONValue] = []
    /// How many of a group's tasks have succeeded (a result may be null itself).
    var done = 0

    /// What one of its tasks may say, by name or in this order: what a `client_new_tasks` entry
    /// may (a step's `delay` counts from when the step is submitted, after the one before).
    static let entryParams = BrokerCommand.submissionParams + BrokerCommand.schedulingParams + BrokerCommand.laterSubmissionParams

    /// The params of `client_new_workflow` a workflow is read from.
    static let params = ["client_id", "kind", "tasks", "callback", "task_id"]

    /// Reads and checks a workflow's definition (every task decoded once, so a bad one is
    /// refused before anything runs). -32602 naming the entry.
    init(kind: String, tasks list: [JSONValue], callback: JSONValue?, method name: String) throws(RPCError) {
        guard let kind = Kind(rawValue: kind) else {
            throw .invalidParams("\(name): param \"kind\" must be \"chain\" or \"group\", not \"\(kind)\"")
        }
        guard !list.isEmpty else { throw .invalidParams("\(name): param \"tasks\" is empty: a \(kind.rawValue) needs at least one task") }
        self.kind = kind
        tasks = []
        tasks.reserveCapacity(list.count)
        for (i, entry) in list.enumerated() {
            // After the first step, a chain's params are a list: the previous result goes first.
            tasks.append(try Self.entry(entry, at: "\(name): tasks[\(i)]", takesInput: kind == .chain && i > 0))
        }
        if let callback, !callback.isNull {
            guard kind == .group else { throw .invalidParams("\(name): param \"callback\" is for a group; a chain passes each result on itself") }
            self.callback = try Self.entry(callback, at: "\(name): callback", takesInput: true)
        }
    }

    /// One task's submission params, named, checked as `Submission` reads them.
    private static func entry(_ value: JSONValue, at name: String, takesInput: Bool) throws(RPCError) -> JSONObject {
        guard let params = Params(json: value) else { throw .invalidParams("\(name) must be an object or array") }
        let p = try ParamBinder(params, method: name, names: entryParams, required: 1)
        let s = try Submission(p)
        if s.taskID != nil {
            throw .invalidParams("\(name): param \"task_id\" is not for a workflow's task: its id is the workflow's, numbered")
        }
        if takesInput, case .object = s.spec.params {
            throw .invalidParams("\(name): param \"params\" must be a list: the previous result is passed as the first param")
        }
        var o = JSONObject()
        for key in entryParams { if let v = p.value(key) { o.append(key, v) } }
        return o
    }

    /// The submission of task `index` (`tasks.count` for the callback), with `input` first in
    /// its params when given.
    func submission(_ index: Int, input: JSONValue?) -> Submission? {
        var o = index < tasks.count ? tasks[index] : callback!
        if let input {
            o["params"] = .array([input] + (o["params"]?.arrayValue ?? []))
        }
        guard let params = Params(json: .object(o)),
            let p = try? ParamBinder(params, method: "workflow", names: Self.entryParams, required: 1)
        else { return nil }
        return try? Submission(p)
    }

    /// The suffix of task `index`'s id after the workflow's own.
    func childSuffix(_ index: Int) -> String { index < tasks.count ? ".\(index + 1)" : ".callback" }

    /// The position of task `childID` of workflow `parentID` (`tasks.count` for the callback),
    /// read from its id (`PARENT.N`, `PARENT.callback`) in O(1); nil when it is none of its tasks.
    func position(of childID: String, in parentID: String) -> Int? {
        let child = childID.utf8, parent = parentID.utf8
        guard child.count > parent.count + 1, childID.hasPrefix(parentID), child.dropFirst(parent.count).first == UInt8(ascii: ".") else {
            return nil
        }
        let suffix = String(decoding: child.dropFirst(parent.count + 1), as: UTF8.self)
        let index = suffix == "callback" ? tasks.count : (Int(suffix).map { $0 - 1 } ?? -1)
        guard index >= 0, index < children.count, children[index] == childID else { return nil }
        return index
    }

    /// How many tasks it runs in all, the callback included.
    var taskCount: Int { tasks.count + (callback == nil ? 0 : 1) }

    // MARK: the record's params

    /// What the workflow's record keeps as its params.
    var json: JSONValue {
        var o = JSONObject()
        o.append("kind", .string(kind.rawValue))
        o.append("tasks", .array(tasks.map { .object($0) }))
        if let callback { o.append("callback", .object(callback)) }
        o.append("children", .array(children.map { .string($0) }))
        if kind == .group {
            o.append("results", .array(results))
            o.append("done", .int(Int64(done)))
        }
        return .object(o)
    }

    /// A workflow as its record kept it; nil when the params are not one.
    init?(json: JSONValue) {
        guard case .object(let o) = json, let k = o["kind"]?.stringValue, let kind = Kind(rawValue: k),
            let tasks = o["tasks"]?.arrayValue?.compactMap(\.objectValue)
        else { return nil }
        self.kind = kind
        self.tasks = tasks
        callback = o["callback"]?.objectValue
        children = o["children"]?.arrayValue?.compactMap(\.stringValue) ?? []
        results = o["results"]?.arrayValue ?? []
        if case .int(let n)? = o["done"] { done = Int(n) }
    }
}
