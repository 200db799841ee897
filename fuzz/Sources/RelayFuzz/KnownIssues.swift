#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Invariant violations already found and being fixed elsewhere (docs/fuzzing.md, "Findings"). While a fix is on
/// its way, the harness skips inputs that show one, so that a run keeps looking for new problems instead of
/// finding the same one again; `RELAY_FUZZ_KNOWN=trap` makes them trap, to check whether a fix has landed.
/// Remove an entry once its fix is merged.
enum KnownIssue: String {
    /// Strict JSONParser reads a number beyond a double's range (`1e400`) as infinity, which no strict writer can
    /// write back. Being fixed with the JSON limits (numbers beyond a double's range rejected).
    case jsonNumberOverflow
    /// WorkflowDecoder multiplies durations (`timeout: 1e300`, `backoff: 9e18s`) into an Int without a range
    /// check and traps. Being fixed with the workflow duration limits.
    case workflowDurationOverflow

    /// A few hundred bytes of nested YAML aliases (`a1: &a1 [*a0, *a0, …]`) expand exponentially in
    /// YAMLDocument.parse (a 10 s timeout in its convert). Being fixed with the YAML alias-expansion limit.
    case yamlAliasExpansion

    static let trapsKnown: Bool = getenv("RELAY_FUZZ_KNOWN").map { String(cString: $0) == "trap" } ?? false

    /// True when the input should be skipped because it shows this known issue.
    func skips(_ shows: Bool, _ message: @autoclosure () -> String) -> Bool {
        guard shows else { return false }
        fuzzCheck(!KnownIssue.trapsKnown, "known issue \(rawValue): \(message())")
        return true
    }

    /// More aliases than a document needs without expanding exponentially (KnownIssue.yamlAliasExpansion): 16
    /// aliases expand a document a few hundred times at most. An alias here is `*name` after a space, a line start,
    /// `[`, `{` or `,` (so that Markdown's `**bold**` and `* item` in descriptions do not count).
    static func manyYAMLAliases(_ bytes: [UInt8]) -> Bool {
        var aliases = 0
        var previous: UInt8 = 0x0A
        for (index, byte) in bytes.enumerated() {
            defer { previous = byte }
            guard byte == UInt8(ascii: "*"), index + 1 < bytes.count, " \n\t[{,".utf8.contains(previous) else {
                continue
            }
            let next = bytes[index + 1]
            if next >= 0x80 || next == UInt8(ascii: "_") || next == UInt8(ascii: "-")
                || (next < 0x80 && Unicode.Scalar(next).properties.isAlphabetic) || (0x30...0x39).contains(next)
            {
                aliases += 1
            }
        }
        return aliases > 16
    }
}
