#if canImport(Glibc)
import Glibc
#endif

/// A shared library opened with `dlopen(RTLD_NOW | RTLD_LOCAL)`.
///
/// It is never closed: a plugin may have started threads or registered `atexit` handlers, and
/// unmapping its code under them is a crash waiting to happen. Workers are processes that get
/// recycled, which is where a plugin's memory is reclaimed.
final class DynamicLibrary: @unchecked Sendable {
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens `path`; a bare file name is taken as `./NAME`, so that `dlopen` never searches
    /// the system's library path for a plugin.
    init(path: String) throws(DynamicLibraryError) {
        let path = path.contains("/") ? path : "./" + path
        // RTLD_NOW: an unresolved symbol is found now, at load, not mid-task.
        // RTLD_LOCAL: two plugins may export the same names without clashing.
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw DynamicLibraryError(message: Self.lastError() ?? "dlopen failed")
        }
        self.path = path
        handle = h
    }

    /// The address of `name`, or nil when the library does not export it.
    func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        _ = dlerror()
        return dlsym(handle, name)
    }

    private static func lastError() -> String? {
        guard let e = dlerror() else { return nil }
        return String(cString: e)
    }
}

/// `dlopen`'s own explanation of a failure.
struct DynamicLibraryError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
