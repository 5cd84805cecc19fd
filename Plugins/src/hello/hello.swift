// hello: a plugin written in Swift. @_cdecl exports C symbols; the manifest (hello.json) gives
// their signatures, exactly as for a C plugin. Build: swiftc -emit-library -parse-as-library.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// hello.greet(name: string) -> string, owned: the host frees it with hello_free.
@_cdecl("hello_greet")
public func greet(_ name: UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>? {
    let who = String(cString: name)
    return strdup("Hello, \(who.isEmpty ? "world" : who)!")
}

@_cdecl("hello_free")
public func helloFree(_ p: UnsafeMutableRawPointer?) {
    free(p)
}

/// hello.fib(n: uint32) -> uint64: the n-th Fibonacci number, wrapping past 2^64 (n > 93).
@_cdecl("hello_fib")
public func fib(_ n: UInt32) -> UInt64 {
    var (a, b): (UInt64, UInt64) = (0, 1)
    for _ in 0..<n { (a, b) = (b, a &+ b) }
    return a
}
