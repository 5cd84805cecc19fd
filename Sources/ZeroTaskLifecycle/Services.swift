import Logging
import ServiceLifecycle
import ZeroTaskBroker
import ZeroTaskHTTP
import ZeroTaskNode

// The broker, the node and the HTTP side as swift-service-lifecycle `Service`s. The conformances
// live here, not in their modules, so that those modules do not wait for swift-service-lifecycle
// (and the swift-async-algorithms and swift-collections it brings) to build: on 2 cores the
// broker and the node then compile beside the dependencies instead of after them
// (BENCHMARKS.md, "Build time"). Each `run()` is the module's `serve()` with the group's graceful
// shutdown wired to the service's own stop request; the handlers only wake the service's thread.

extension BrokerService: Service {
    /// Graceful shutdown and cancellation both store what the broker holds and stop it.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await serve()
        } onGracefulShutdown: {
            self.logger.notice("broker stopping: storing what it holds")
            self.requestStop()
        }
    }
}

extension NodeService: Service {
    /// Graceful shutdown drains (no new tasks, running ones get the drain grace); cancellation
    /// stops at once (running tasks are handed back to the broker).
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await serve()
        } onGracefulShutdown: {
            self.requestStop()
        }
    }
}

extension BrokerHTTPServer: Service {
    /// Graceful shutdown stops serving; run it after the broker in the group, so it stops first.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await serve()
        } onGracefulShutdown: {
            self.stopServing()
        }
    }
}
