/// How a duration reads in messages and logs: `5 s`, `2.5 s`, `0.25 s` (whole seconds without a
/// fraction, others to the millisecond at most). The one formatter the node and the CLI use.
public enum SecondsText {
    public static func format(_ seconds: Double) -> String {
        let ms = (seconds * 1000).rounded()
        guard ms.isFinite, abs(ms) < 1e15 else { return "\(seconds) s" }
        if ms.truncatingRemainder(dividingBy: 1000) == 0 { return "\(Int64(ms / 1000)) s" }
        var text = "\(ms / 1000)"
        // Binary fractions may print long (0.1 + 0.2): keep three decimals at most.
        if let dot = text.firstIndex(of: "."), text.distance(from: dot, to: text.endIndex) > 4 {
            text = String(text[...text.index(dot, offsetBy: 3)])
        }
        return text + " s"
    }
}
