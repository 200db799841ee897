#if canImport(Glibc)
    import Glibc
#endif

/// Which allocator this process's `malloc` is: the `relay` executable links tcmalloc (Package.swift), a test binary
/// or a library user's has glibc's. Printed by `relay version` and on every bench's first line, since a burst's CPU
/// per step depends on it (docs/benchmarks.md, issue #17's thirteenth round).
public enum ProcessAllocator {
    /// `tcmalloc (gperftools 2.10)` when `malloc` is bound to tcmalloc's, else `glibc 2.36 malloc`.
    public static var description: String {
        #if os(Linux)
            // RTLD_DEFAULT: the symbol as the process binds it, the first library that defines it.
            let process = UnsafeMutableRawPointer(bitPattern: 0)
            if let malloc = dlsym(process, "malloc"), malloc == dlsym(process, "tc_malloc"),
                let symbol = dlsym(process, "tc_version")
            {
                typealias Version =
                    @convention(c) (
                        UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?,
                        UnsafeMutablePointer<UnsafePointer<CChar>?>?
                    ) -> UnsafePointer<CChar>?
                let version = unsafeBitCast(symbol, to: Version.self)(nil, nil, nil).map { String(cString: $0) }
                return "tcmalloc (\(version ?? "unknown version"))"
            }
            // (gnu_get_libc_version is not in Swift's Glibc module.)
            typealias LibcVersion = @convention(c) () -> UnsafePointer<CChar>?
            let libc = dlsym(process, "gnu_get_libc_version")
                .flatMap { unsafeBitCast($0, to: LibcVersion.self)() }.map { String(cString: $0) }
            return "glibc \(libc ?? "") malloc"
        #else
            return "the system's malloc"
        #endif
    }
}
