import ZeroTaskPlugins

/// Which sandbox profile each method's tasks run under, and the one a new worker takes when no
/// waiting task needs another: the state machine's part of the sandbox (rules, no I/O).
struct SandboxProfiles {
    let settings: SandboxSettings
    /// Each method's profile (from the manifests of the generation being served).
    private(set) var byMethod: [String: SandboxProfile] = [:]
    /// The profile most methods share: new workers take it unless a waiting task needs another.
    private(set) var primary: SandboxProfile

    init(settings: SandboxSettings) {
        self.settings = settings
        primary = settings.profile(for: SandboxLimits())
    }

    /// The profile `method`'s tasks run under (the primary one for a method not known yet).
    func profile(of method: String) -> SandboxProfile { byMethod[method] ?? primary }

    /// Takes the declared limits of every method of a new generation.
    mutating func update(declared: [String: SandboxLimits]) {
        byMethod = declared.mapValues(settings.profile(for:))
        var counts: [SandboxProfile: Int] = [:]
        for p in byMethod.values { counts[p, default: 0] += 1 }
        // Ties go to the profile whose description sorts first, so that the choice is stable.
        primary = counts.max { a, b in a.value != b.value ? a.value < b.value : a.key.description > b.key.description }?.key
            ?? settings.profile(for: SandboxLimits())
    }

    /// How many different profiles the methods have.
    var count: Int { Set(byMethod.values).count }
}
