import Foundation

extension RelayProcess {
    /// Runs `relay` as `run` does, but returns nil (after killing it) when it has not exited within `seconds`:
    /// a command that hangs fails its test instead of stalling the run. The bound is generous on purpose; it
    /// measures nothing.
    static func runBounded(_ arguments: [String], seconds: Double = 60) async throws -> Result? {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("relay-bounded-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        // Files, not pipes: nothing to drain while waiting, and nothing blocks if the child hangs.
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try out.close()
        try err.close()
        guard await waitFor(seconds: seconds, { !process.isRunning }) else {
            kill(process.processIdentifier, SIGKILL)
            try await OffPool.run { process.waitUntilExit() }
            return nil
        }
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
