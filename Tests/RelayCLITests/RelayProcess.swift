import Foundation
@_exported import RelayTestSupport

/// Runs the built `relay` executable as a child process, the way a user runs it.
struct RelayProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Killed by a signal (a trap is SIGILL or SIGTRAP): `status` is then the signal's number.
        var signalled = false
    }

    /// The `relay` binary beside the test bundle (`swift build --build-tests` builds it: the test target depends
    /// on the executable).
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["RELAY_BINARY"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
            packageRoot.appendingPathComponent(".build/debug"),
        ]
        for directory in candidates {
            let candidate = directory.appendingPathComponent("relay")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return packageRoot.appendingPathComponent(".build/debug/relay")
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs the child on a dispatch thread: blocking waits never occupy Swift's cooperative pool (two threads
    /// here), which other tests need.
    static func run(
        _ arguments: [String], stdin: String? = nil, executable: URL? = nil,
        environment: [String: String] = [:]
    ) async throws -> Result {
        try await OffPool.run {
            try runBlocking(arguments, stdin: stdin, executable: executable, environment: environment)
        }
    }

    static func runBlocking(
        _ arguments: [String], stdin: String? = nil, executable: URL? = nil,
        environment: [String: String] = [:]
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? self.executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = packageRoot
        let out = Pipe()
        let input = Pipe()
        // stderr goes to a file so that reading stdout to the end cannot deadlock on a full stderr pipe.
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("relay-stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let errHandle = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = errHandle
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try errHandle.close()
        let stderrData = (try? Data(contentsOf: errURL)) ?? Data()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self),
            signalled: process.terminationReason == .uncaughtSignal)
    }
}
