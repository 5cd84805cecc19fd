import Foundation
import Testing
@testable import ZeroTaskPlugins

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        // FIPS 180-4 / NIST examples.
        #expect(SHA256.hex(of: Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(of: Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8))
            == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        #expect(SHA256.hex(of: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func paddingBoundaries() throws {
        // 55, 56 and 64 bytes straddle the length field's block boundary; checked against sha256sum.
        for n in [55, 56, 63, 64, 65, 119, 120] {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let file = PluginFixtures.makeTemporaryDirectory("zt-sha") + "/data"
            _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
            let expected = try shellOutput("sha256sum \(file)").prefix(64)
            #expect(SHA256.hex(of: bytes) == String(expected), "length \(n)")
        }
    }

    @Test func incrementalUpdatesMatchOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        var h = SHA256()
        var i = 0
        for size in [1, 3, 63, 64, 65, 200, 604] {
            bytes[i..<(i + size)].withUnsafeBytes { h.update($0) }
            i += size
        }
        #expect(SHA256.hexString(h.finalize()) == SHA256.hex(of: bytes))
    }
}

func shellOutput(_ command: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
