import Testing
import ZeroTaskHTTP

@Suite struct HTTPAddressTests {
    @Test func parsesAnAddressLocalhostAndTheWildcard() throws {
        #expect(try HTTPAddress(parsing: "http://127.0.0.1:5580", setting: "broker.http") == .default)
        #expect(try HTTPAddress(parsing: "http://localhost:8080/", setting: "x") == HTTPAddress(host: "127.0.0.1", port: 8080))
        #expect(try HTTPAddress(parsing: "http://*:9000", setting: "x") == HTTPAddress(host: "0.0.0.0", port: 9000))
    }

    @Test(arguments: [
        ("127.0.0.1:5580", "it must start with http://"),
        ("https://127.0.0.1:5580", "it must start with http://"),
        ("http://127.0.0.1", "it needs a port"),
        ("http://127.0.0.1:99999", "it needs a port"),
        ("http://example.com:80", "the host must be an IPv4 address"),
        ("http://1.2.3:80", "the host must be an IPv4 address"),
    ])
    func refusesWhatIsNotHTTPHostPort(text: String, why: String) {
        #expect {
            try HTTPAddress(parsing: text, setting: "broker.http")
        } throws: { error in
            let d = (error as? HTTPAddressError)?.description ?? ""
            return d.hasPrefix("broker.http must be off or http://HOST:PORT, not \"\(text)\"") && d.contains(why)
        }
    }
}
