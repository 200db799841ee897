import CFuzzerDriver

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The fuzz targets. One binary holds them all and `RELAY_FUZZ_TARGET` picks one, so the fuzz build links once.
/// libFuzzer's driver runs the loop; its flags (`-max_total_time=60`, corpus directories) pass through.
/// See docs/fuzzing.md.
enum FuzzTarget: String, CaseIterable {
    case json, yaml, workflow, template, envelope

    /// Checks one input; traps (through `fuzzCheck`) when an invariant does not hold.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .json: JSONRoundTripTarget.run(bytes)
        case .yaml: SpecYAMLTarget.run(bytes)
        case .workflow: WorkflowTarget.run(bytes)
        case .template: TemplateTarget.run(bytes)
        case .envelope: EnvelopeTarget.run(bytes)
        }
    }

    /// Set once in main, before libFuzzer runs any input; only read afterwards.
    nonisolated(unsafe) static var selected: FuzzTarget = .json
}

let name = getenv("RELAY_FUZZ_TARGET").map { String(cString: $0) } ?? ""
guard let target = FuzzTarget(rawValue: name) else {
    printError(
        "relay-fuzz: set RELAY_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|"))"
            + " (found \"\(name)\"); libFuzzer flags follow, e.g. relay-fuzz -max_total_time=60 CORPUS_DIR SEED_DIR")
    exit(2)
}
FuzzTarget.selected = target

/// libFuzzer's conventional entry point: its archive refers to it (a debug build, without dead stripping, does not
/// link without it), and the driver below runs it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.selected.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzTestOneInput))
