import ArgumentParser
import Foundation
import Logging
import RelayCore

/// An error the CLI prints as `relay: message` with exit status 2, never a stack trace.
struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }

    /// Runs `body`, turning Relay's errors into a clean message.
    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as RelayError {
            FileHandle.standardError.write(Data("relay: \(error.message)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// Finding spec files.
enum SpecPaths {
    /// A spec file, or `DIR/plugin.spec.yaml` for a directory.
    static func specFile(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return (path as NSString).appendingPathComponent("plugin.spec.yaml")
        }
        return path
    }

    /// `path` itself when it is a file; otherwise every `plugin.spec.yaml` at or below it (two levels), sorted.
    static func specFiles(under path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RelayError(.notFound, "\(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let direct = (path as NSString).appendingPathComponent("plugin.spec.yaml")
        if FileManager.default.fileExists(atPath: direct) { return [direct] }
        let children = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let found = children.sorted().map {
            ((path as NSString).appendingPathComponent($0) as NSString)
                .appendingPathComponent("plugin.spec.yaml")
        }.filter { FileManager.default.fileExists(atPath: $0) }
        guard !found.isEmpty else {
            throw RelayError(.notFound, "\(path): no plugin.spec.yaml in it or in its subdirectories")
        }
        return found
    }
}

/// Logging of the long-running commands: swift-log to stderr at info.
enum CLILogging {
    static func bootstrap() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
    }
}
