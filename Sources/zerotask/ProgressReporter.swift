#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation

/// Shows progress on stderr: a bar redrawn in place on a terminal, a plain line every 10%
/// otherwise (logs and pipes get no control characters).
struct ProgressReporter {
    let total: Int
    let label: String
    let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastTenth = 0

    init(total: Int, label: String) {
        self.total = total
        self.label = label
    }

    mutating func update(done: Int, elapsed: Double) {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        if isTerminal {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let percent = total > 0 ? 100 * done / total : 100
            write("\r\(label) [\(bar)] \(done)/\(total) \(percent)%  \(Int(rate)) jobs/s ")
        } else {
            let tenth = total > 0 ? 10 * done / total : 10
            guard tenth > lastTenth else { return }
            lastTenth = tenth
            write("\(label): \(done)/\(total) done (\(tenth * 10)%), \(Int(rate)) jobs/s\n")
        }
    }

    /// Ends the bar's line on a terminal.
    func finish() {
        if isTerminal { write("\n") }
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
