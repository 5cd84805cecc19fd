import Testing
import ZeroTaskProtocol

/// `[A-Za-z0-9][A-Za-z0-9._:-]{0,127}` for ids, `[A-Za-z_][A-Za-z0-9_.-]{0,127}` for method names.
@Suite struct IdentifierTests {
    @Test func idLength() {
        #expect(Identifier.isValidID("a"))
        #expect(Identifier.isValidID(String(repeating: "a", count: 128)))
        #expect(!Identifier.isValidID(String(repeating: "a", count: 129)))
        #expect(!Identifier.isValidID(""))
    }

    @Test func idFirstCharacter() {
        for ok in ["a", "Z", "0", "9x"] { #expect(Identifier.isValidID(ok), "\(ok)") }
        for bad in [".a", "_a", ":a", "-a", " a"] { #expect(!Identifier.isValidID(bad), "\(bad)") }
    }

    @Test func idPunctuation() {
        #expect(Identifier.isValidID("alice-t1.part_2:x"))
        #expect(Identifier.isValidID("a-" + String(repeating: ".", count: 126)))
        for bad in ["a b", "a/b", "a@b", "a+b", "é", "aé", "a\n", "a\u{0}", "a,b", "a\"b"] {
            #expect(!Identifier.isValidID(bad), "\(bad)")
        }
    }

    @Test func methodNames() {
        for ok in ["add", "_private", "math.add", "a-b", "A9", "x_y.z-w", String(repeating: "m", count: 128)] {
            #expect(Identifier.isValidMethodName(ok), "\(ok)")
        }
        for bad in ["", "9add", ".add", "-add", "a:b", "a b", "añ", "a/b", String(repeating: "m", count: 129)] {
            #expect(!Identifier.isValidMethodName(bad), "\(bad)")
        }
    }

    @Test func reservedNamespace() {
        #expect(Identifier.isReservedMethodName("zerotask.broker.stats"))
        #expect(Identifier.isReservedMethodName("zerotask."))
        #expect(!Identifier.isReservedMethodName("zerotask"))
        #expect(!Identifier.isReservedMethodName("zerotaskx.add"))
        #expect(!Identifier.isReservedMethodName("add"))
    }
}
