import ZeroTaskProtocol

/// How much of what one worker prints reaches the node's log: a burst, then a steady rate. The
/// rest is counted and reported as one "suppressed N bytes" line, so a plugin printing in a loop
/// cannot flood the log (or the disk under it) while its lines still say that it did.
struct OutputBudget {
    /// Bytes a worker may print at once.
    static let burst = 64 * 1024
    /// Bytes a second after the burst.
    static let rate = 16 * 1024.0
    /// Suppressed bytes are reported at most this often while output goes on.
    static let reportEvery = 1.0

    private var allowance = Double(burst)
    private var refilledAt: MonotonicInstant?
    /// Bytes dropped since the last report.
    private(set) var suppressed = 0
    private var reportedAt = MonotonicInstant(seconds: 0)

    /// Whether a line of `bytes` may be logged now; if not, it is counted as suppressed.
    mutating func admit(_ bytes: Int, now: MonotonicInstant) -> Bool {
        if let t = refilledAt { allowance = min(Double(Self.burst), allowance + (now - t) * Self.rate) }
        refilledAt = now
        guard allowance >= Double(bytes) else {
            suppressed += bytes
            return false
        }
        allowance -= Double(bytes)
        return true
    }

    /// The suppressed byte count to report now, if any: once a second while output is dropped,
    /// or at once when `force` (output is admitted again, the worker ended). Resets the count.
    mutating func takeSuppressed(now: MonotonicInstant, force: Bool = false) -> Int? {
        guard suppressed > 0, force || now - reportedAt >= Self.reportEvery else { return nil }
        defer { suppressed = 0; reportedAt = now }
        return suppressed
    }
}

extension String {
    /// The text with control characters (C0 but tab, DEL, C1) written as `\u{1B}`: a plugin's
    /// output must not move the cursor, clear a terminal or forge a log line.
    var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: Self.isControl) else { return self }
        var out = ""
        out.unicodeScalars.reserveCapacity(unicodeScalars.count + 8)
        for s in unicodeScalars {
            if Self.isControl(s) {
                out += "\\u{" + String(s.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(s)
            }
        }
        return out
    }

    private static func isControl(_ s: Unicode.Scalar) -> Bool {
        (s.value < 0x20 && s != "\t") || (s.value >= 0x7F && s.value < 0xA0)
    }
}
