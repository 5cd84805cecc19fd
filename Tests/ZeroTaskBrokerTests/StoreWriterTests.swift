import Foundation
import Testing
@testable import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The store writer: merged iterations keep the last word for every row, and everything
/// submitted reaches the store, in order, before it counts as written.
@Suite struct StoreWriterTests {
    func task(_ id: String, _ status: TaskStatus) -> StoredTask {
        StoredTask(id: id, clientID: "c", method: "m", params: [], sequence: 1, status: status, created: 0)
    }

    func changes(tasks: [StoredTask] = [], deleted: [String] = []) -> StoreChanges {
        var c = StoreChanges()
        c.tasks = tasks
        c.deletedTasks = deleted
        return c
    }

    @Test func mergedChangesKeepTheLastWordForEachTask() {
        let merged = StoreWriter.merge([
            changes(tasks: [task("a", .queued), task("b", .queued)]),
            changes(tasks: [task("a", .finished)], deleted: ["b"]),
            changes(tasks: [task("b", .queued)], deleted: ["c"]),  // b submitted again after it expired
            changes(deleted: ["a"]),
        ])
        #expect(merged.tasks == [task("b", .queued)])
        #expect(Set(merged.deletedTasks) == ["a", "c"])
        // Deleted first, then written: the row stands.
        let back = StoreWriter.merge([changes(deleted: ["d"]), changes(tasks: [task("d", .queued)])])
        #expect(back.tasks == [task("d", .queued)] && back.deletedTasks.isEmpty)
    }

    @Test func everythingSubmittedIsWrittenBeforeItCounts() throws {
        let path = FixturePlugins.temporaryDirectory("zt-writer") + "/s.sqlite"
        let store = try SQLiteTaskStore(path: path)
        let writer = StoreWriter(store: store, logger: .init(label: "test"))
        var last = 0
        for i in 0..<50 { last = writer.submit(changes(tasks: [task("t\(i)", .queued)])) }
        #expect(last == 50)
        #expect(eventually(30) { writer.written == 50 })
        writer.stop()
        store.close()
        let reopened = try SQLiteTaskStore(path: path)
        #expect(try reopened.load().tasks.count == 50)
        reopened.close()
    }

    /// A store whose writes wait until the test lets them go (the writer is what is tested).
    final class GatedStore: TaskStore, @unchecked Sendable {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        var description: String { "gated" }
        var isDurable: Bool { true }
        func load() throws(StoreError) -> StoreContents { StoreContents() }
        func write(_ changes: StoreChanges) throws(StoreError) {
            entered.signal()
            release.wait()
        }
        func close() {}
    }

    /// A batch handed over while the previous one is being committed gets a later number than
    /// it: a reply waiting for it must not go out when only the earlier commit is done.
    @Test func aBatchSubmittedDuringACommitWaitsForItsOwnCommit() {
        let store = GatedStore()
        let writer = StoreWriter(store: store, logger: .init(label: "test"))
        #expect(writer.submit(changes(tasks: [task("a", .queued)])) == 1)
        store.entered.wait()  // the writer is committing batch 1
        let second = writer.submit(changes(tasks: [task("b", .queued)]))
        #expect(second == 2)
        store.release.signal()
        #expect(eventually(30) { writer.written >= 1 })
        #expect(writer.written < second)  // batch 2's commit is still held at the gate
        store.entered.wait()
        store.release.signal()
        #expect(eventually(30) { writer.written == second })
        writer.stop()
    }
}
