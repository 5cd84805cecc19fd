#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle
import ZeroTaskLifecycle

/// What a process serving the broker or a node sets up once for itself, and how it runs.
enum ServiceProcess {
    /// Process-wide settings, the executable's to choose (a library must not change them under
    /// its host):
    /// - SIGPIPE is ignored: a worker that dies while the node writes to it must not end the
    ///   node (the write fails with EPIPE instead).
    /// - Large bodies (up to max_message_bytes, and beyond before refusal) go back to the system
    ///   when freed: glibc raises its mmap threshold after freeing a large block, so later ones
    ///   would come from the heap and stay there; the threshold is fixed instead.
    static func configure() {
        signal(SIGPIPE, SIG_IGN)
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 256 * 1024)
    }

    /// Runs `service` in a `ServiceGroup`: SIGTERM and SIGINT shut it down gracefully (the node
    /// drains, the broker stores what it holds); cancelling the task stops it at once. Returns
    /// when the service has stopped. An `auxiliary` service (the HTTP server) runs beside it and
    /// stops before it; its end, even by an error, does not end the process.
    static func run(_ service: some Service, _ auxiliary: (any Service)? = nil, logger: Logger) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
        if let auxiliary { services.append(.init(service: auxiliary, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)) }
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// glibc's `mallopt` (malloc.h is not part of the Glibc module).
@_silgen_name("mallopt")
private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
