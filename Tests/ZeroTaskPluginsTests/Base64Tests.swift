import Testing
import ZeroTaskPlugins

@Suite struct Base64Tests {
    @Test func rfc4648Vectors() throws {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(try Base64.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test func everyByteRoundTrips() throws {
        let bytes = (0...255).map { UInt8($0) }
        #expect(try Base64.decode(Base64.encode(bytes)) == bytes)
    }

    @Test func paddingIsOptional() throws {
        #expect(try Base64.decode("Zg") == Array("f".utf8))
        #expect(try Base64.decode("Zm8") == Array("fo".utf8))
    }

    @Test func badInputIsRefusedWithItsPosition() {
        #expect(throws: Base64.DecodingError(reason: "invalid base64 character", offset: 2)) { try Base64.decode("Zm 9v") }
        #expect(throws: Base64.DecodingError(reason: "invalid base64 character", offset: 3)) { try Base64.decode("Zm9-") }
        #expect(throws: Base64.DecodingError(reason: "truncated input", offset: 5)) { try Base64.decode("Zm9vY") }
        #expect(throws: Base64.DecodingError(reason: "misplaced '='", offset: 2)) { try Base64.decode("Zm=v") }
        #expect(throws: Base64.DecodingError(reason: "padding does not complete a group of 4", offset: 2)) { try Base64.decode("Zm=") }
    }
}
