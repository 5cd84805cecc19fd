/// The release of ZeroTask this code is, and how it was built: `zerotask --version` prints it,
/// and a Swift program can log it. Build facts come from the compiler, not from git, so a
/// source tarball reports the same as a checkout.
public enum ZeroTaskVersion {
    /// The release, semantic versioning. Raise it with every release (docs/CHANGELOG-style notes
    /// live in the README's "Versions").
    public static let current = "0.6.0"

    /// `debug` or `release`.
    public static var configuration: String {
        #if DEBUG
            "debug"
        #else
            "release"
        #endif
    }

    /// The compiler that built it, to the minor version.
    public static var compiler: String {
        #if compiler(>=6.4)
            "Swift 6.4+"
        #elseif compiler(>=6.3)
            "Swift 6.3"
        #elseif compiler(>=6.2)
            "Swift 6.2"
        #elseif compiler(>=6.1)
            "Swift 6.1"
        #else
            "Swift 6.0"
        #endif
    }

    /// The processor and system it was built for.
    public static var platform: String {
        #if arch(x86_64)
            let arch = "x86_64"
        #elseif arch(arm64)
            let arch = "arm64"
        #else
            let arch = "unknown-arch"
        #endif
        #if os(Linux)
            return arch + " Linux"
        #elseif os(macOS)
            return arch + " macOS"
        #else
            return arch
        #endif
    }

    /// `0.6.0 (release build, Swift 6.3, x86_64 Linux)`.
    public static var description: String { "\(current) (\(configuration) build, \(compiler), \(platform))" }
}
