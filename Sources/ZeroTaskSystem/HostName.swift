#if canImport(Glibc)
import Glibc
#endif

/// This machine's host name, as the node's id and the CLI's stable client id start from.
public enum HostName {
    /// The name `gethostname` gives, or nil when it fails or is empty.
    public static func current() -> String? {
        var host = [CChar](repeating: 0, count: 256)
        guard gethostname(&host, host.count - 1) == 0 else { return nil }
        let name = String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }
}
