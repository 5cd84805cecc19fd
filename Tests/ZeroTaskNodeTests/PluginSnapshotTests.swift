#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import ZeroTaskNode
import ZeroTaskTestSupport

/// The plugins folder watch: settle rule, private copies, the drop-folder names users see, and
/// the clean-up of folders dead nodes left behind. Real files, no node.
@Suite struct PluginSnapshotTests {
    @Test func aFileIsTakenOnlyOnceItHasBeenLeftAloneForTheSettleTime() throws {
        let dir = FixturePlugins.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var snapshot = PluginSnapshot(source: dir)
        defer { snapshot.removeAll() }
        try Data("half a library".utf8).write(to: URL(fileURLWithPath: dir + "/p.so"))
        // Just written: not settled for any settle time longer than its age.
        #expect(!snapshot.settledChange(settle: 3600))
        #expect(snapshot.settledChange(settle: 0))
        let (n, copy, versions) = snapshot.takeSnapshot()
        #expect(n == 1 && versions.keys.sorted() == ["p.so"])
        #expect(FileManager.default.contents(atPath: copy + "/p.so") == Data("half a library".utf8))
        // Nothing changed since the copy: nothing to take.
        #expect(!snapshot.settledChange(settle: 0))
        // `touch`, a rewrite, a new manifest: each is a new version.
        try Data("the whole library".utf8).write(to: URL(fileURLWithPath: dir + "/p.so"))
        #expect(snapshot.settledChange(settle: 0))
        #expect(!snapshot.settledChange(settle: 3600))
        // Only the generation `activate` names is the one workers start with.
        #expect(snapshot.generation == 0)
        snapshot.activate(n)
        #expect(snapshot.generation == 1)
        #expect(snapshot.sourcePath("\(copy)/p.so: symbol \"f\" not found in \(copy)/p.so", in: copy)
            == "\(dir)/p.so: symbol \"f\" not found in \(dir)/p.so")
    }

    @Test func foldersOfNodesThatAreGoneAreRemovedAndLiveOnesKept() throws {
        let tmp = FixturePlugins.temporaryDirectory("zt-tmp")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        // A pid that surely ended: a child this test started and reaped.
        let done = try ChildProcess("/bin/true", [])
        #expect(done.waitForExit(seconds: 30) == 0)
        let dead = "\(tmp)/\(PluginSnapshot.prefix)\(done.pid)"
        let alive = "\(tmp)/\(PluginSnapshot.prefix)\(getppid())"
        let other = "\(tmp)/unrelated-\(done.pid)"
        for d in [dead, alive, other] { try FileManager.default.createDirectory(atPath: d + "/gen-1", withIntermediateDirectories: true) }
        #expect(PluginSnapshot.removeStale(in: tmp) == [dead])
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: alive))
        #expect(FileManager.default.fileExists(atPath: other))
    }
}
