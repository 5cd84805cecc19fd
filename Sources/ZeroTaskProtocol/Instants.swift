#if canImport(Glibc)
import Glibc
#endif

/// A reading of the monotonic clock, in seconds from an arbitrary start: for deadlines,
/// timeouts, last-seen times and waits (never the wall clock, which jumps). It means nothing
/// outside the process that read it, so it is neither stored nor shown.
///
/// A plain `Double` inside: as cheap as one on the broker's hot path. It does not mix with a
/// `WallInstant`; spans between two instants are seconds (`Double`).
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var seconds: Double

    @inlinable public init(seconds: Double) { self.seconds = seconds }

    /// Reads the monotonic clock (`CLOCK_MONOTONIC`): the one reader.
    public static func now() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(seconds: Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
    }

    /// Before any reading: "never" for a last time something happened.
    @inlinable public static var distantPast: MonotonicInstant { MonotonicInstant(seconds: -.infinity) }
    /// After any reading: "never" for a deadline.
    @inlinable public static var distantFuture: MonotonicInstant { MonotonicInstant(seconds: .infinity) }

    @inlinable public static func < (a: MonotonicInstant, b: MonotonicInstant) -> Bool { a.seconds < b.seconds }
    // The others too, with the Double's own meaning (Comparable's defaults negate `<`).
    @inlinable public static func <= (a: MonotonicInstant, b: MonotonicInstant) -> Bool { a.seconds <= b.seconds }
    @inlinable public static func > (a: MonotonicInstant, b: MonotonicInstant) -> Bool { a.seconds > b.seconds }
    @inlinable public static func >= (a: MonotonicInstant, b: MonotonicInstant) -> Bool { a.seconds >= b.seconds }
    @inlinable public static func + (a: MonotonicInstant, span: Double) -> MonotonicInstant { MonotonicInstant(seconds: a.seconds + span) }
    @inlinable public static func - (a: MonotonicInstant, span: Double) -> MonotonicInstant { MonotonicInstant(seconds: a.seconds - span) }
    /// Seconds from `b` to `a`.
    @inlinable public static func - (a: MonotonicInstant, b: MonotonicInstant) -> Double { a.seconds - b.seconds }
    @inlinable public static func += (a: inout MonotonicInstant, span: Double) { a.seconds += span }
    @inlinable public static func -= (a: inout MonotonicInstant, span: Double) { a.seconds -= span }

    /// The seconds, as a `Double` prints them (messages read as they did before the type).
    public var description: String { seconds.description }
}

/// A wall-clock time, in seconds since 1970 (UTC): what users see and stores keep (a task's
/// created, started and finished times, `not_before`). It jumps when the clock is set, so it
/// is never a deadline's clock; it does not mix with a `MonotonicInstant`.
public struct WallInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var seconds: Double

    @inlinable public init(seconds: Double) { self.seconds = seconds }

    /// Reads the wall clock (`CLOCK_REALTIME`): the one reader.
    public static func now() -> WallInstant {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return WallInstant(seconds: Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
    }

    @inlinable public static func < (a: WallInstant, b: WallInstant) -> Bool { a.seconds < b.seconds }
    // The others too, with the Double's own meaning (Comparable's defaults negate `<`).
    @inlinable public static func <= (a: WallInstant, b: WallInstant) -> Bool { a.seconds <= b.seconds }
    @inlinable public static func > (a: WallInstant, b: WallInstant) -> Bool { a.seconds > b.seconds }
    @inlinable public static func >= (a: WallInstant, b: WallInstant) -> Bool { a.seconds >= b.seconds }
    @inlinable public static func + (a: WallInstant, span: Double) -> WallInstant { WallInstant(seconds: a.seconds + span) }
    @inlinable public static func - (a: WallInstant, span: Double) -> WallInstant { WallInstant(seconds: a.seconds - span) }
    /// Seconds from `b` to `a`.
    @inlinable public static func - (a: WallInstant, b: WallInstant) -> Double { a.seconds - b.seconds }
    @inlinable public static func += (a: inout WallInstant, span: Double) { a.seconds += span }
    @inlinable public static func -= (a: inout WallInstant, span: Double) { a.seconds -= span }

    /// The seconds, as a `Double` prints them.
    public var description: String { seconds.description }
}

// Literals read as seconds, so that tests can write `now: 5` and `h.now = 12`; a variable of
// one kind never converts to the other.
extension MonotonicInstant: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    @inlinable public init(floatLiteral value: Double) { seconds = value }
    @inlinable public init(integerLiteral value: Int64) { seconds = Double(value) }
}

extension WallInstant: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    @inlinable public init(floatLiteral value: Double) { seconds = value }
    @inlinable public init(integerLiteral value: Int64) { seconds = Double(value) }
}
