import Testing

/// The relay executable's malloc is tcmalloc's (Package.swift links it, docs/benchmarks.md says why): a link that
/// dropped it (a linker that leaves out a library no symbol of relay's needs) would leave glibc's in its place, and
/// the allocator `relay version` reports is the one `malloc` is bound to in that process.
@Suite struct AllocatorTests {
    @Test func theRelayExecutablesMallocIsTcmalloc() async throws {
        let result = try await RelayProcess.run(["version"])
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("allocator tcmalloc (gperftools 2.") }, "\(lines)")
    }
}
