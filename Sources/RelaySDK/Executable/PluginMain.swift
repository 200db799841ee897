import Foundation
import Logging
import RelayCore

/// The command line of a plugin executable, compatible with the InsightConnect runtime's:
///
/// - `run`: read one v1 start message on stdin, print the event envelope on stdout; exit 1 on error;
/// - `test`: the same, running the connection test;
/// - `info`: name, vendor, version, description, and the triggers, actions and tasks;
/// - `sample NAME`: a v1 start message for a step, with sample input and connection;
/// - `http [--port N]`: the runtime's HTTP API on 127.0.0.1 (or `--host`).
public enum PluginMain {
    /// Runs the command line and exits.
    public static func main(_ plugin: Plugin, arguments: [String] = Array(CommandLine.arguments.dropFirst())) async
        -> Never
    {
        let status = await run(plugin, arguments: arguments)
        exit(status)
    }

    /// Runs one command; returns the exit status.
    public static func run(_ plugin: Plugin, arguments: [String]) async -> Int32 {
        var arguments = arguments
        let debug = arguments.contains("--debug")
        arguments.removeAll { $0 == "--debug" }
        guard let command = arguments.first else {
            printUsage(plugin)
            return 2
        }
        switch command {
        case "run", "test":
            let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            let (envelope, ok) = await handle(text: input, plugin: plugin, isTest: command == "test", debug: debug)
            FileHandle.standardOutput.write(Data(JSONWriter.compact.bytes(envelope.json)))
            FileHandle.standardOutput.write(Data("\n".utf8))
            return ok ? 0 : 1
        case "info":
            print(info(plugin))
            return 0
        case "sample":
            guard arguments.count == 2 else {
                FileHandle.standardError.write(Data("usage: \(plugin.name) sample NAME\n".utf8))
                return 2
            }
            guard let message = sample(plugin, name: arguments[1]) else {
                FileHandle.standardError.write(Data("Invalid trigger, action or task name: \(arguments[1])\n".utf8))
                return 1
            }
            print(JSONWriter.compact.string(message.json))
            return 0
        case "http":
            var configuration = PluginHTTPServer.Configuration()
            var index = 1
            while index < arguments.count {
                let flag = arguments[index]
                let value = index + 1 < arguments.count ? arguments[index + 1] : nil
                switch flag {
                case "--port":
                    guard let value, let port = Int(value), (0...65535).contains(port) else {
                        FileHandle.standardError.write(Data("--port needs a number from 0 to 65535\n".utf8))
                        return 2
                    }
                    configuration.port = port
                    index += 2
                case "--host":
                    guard let value else { return 2 }
                    configuration.host = value
                    index += 2
                default:
                    // The runtime's gunicorn flags (--process_workers, --threads_per_worker, ...) are accepted
                    // and ignored: Swift serves requests concurrently in one process.
                    index += (value != nil && !(value!.hasPrefix("--"))) ? 2 : 1
                }
            }
            do {
                try await PluginHTTPServer(plugin: plugin, configuration: configuration).run()
                return 0
            } catch {
                FileHandle.standardError.write(Data("http server failed: \(error)\n".utf8))
                return 1
            }
        default:
            printUsage(plugin)
            return 2
        }
    }

    /// Handles one v1 message text as `run`/`test` do: the event envelope and whether it succeeded.
    public static func handle(text: String, plugin: Plugin, isTest: Bool, debug: Bool = false) async -> (
        V1Message, Bool
    ) {
        let message: V1Message
        do {
            message = try V1Message(text: text)
        } catch {
            let event = StepEvent.failure(error.message)
            return (event.message(kind: .actionEvent), false)
        }
        let start: StepStart
        do {
            start = try StepStart(message: message)
        } catch {
            return (
                StepEvent.failure(error.message, meta: message.body["meta"] ?? .null).message(
                    kind: message.kind.eventKind), false
            )
        }
        let host = PluginHost(plugin: plugin)
        var event: StepEvent
        if isTest {
            event = await host.run(
                StepStart(step: .connectionTest, input: start.input, connection: start.connection, meta: start.meta))
        } else {
            switch start.step {
            case .action, .connectionTest: event = await host.run(start)
            case .task: event = await host.runTask(start)
            case .trigger:
                event = await TriggerDispatch.run(host: host, start: start)
            }
        }
        let kind: V1Message.Kind = start.step == .connectionTest ? .connectionTest : message.kind.eventKind
        return (event.message(kind: kind), event.status == .ok)
    }

    public static func info(_ plugin: Plugin) -> String {
        let spec = plugin.spec
        var text = """
            Name:        \(spec.name)
            Vendor:      \(spec.vendor ?? "")
            Version:     \(spec.version ?? "")
            Description: \(spec.description ?? "")

            """
        for (title, components) in [("Triggers", spec.triggers), ("Actions", spec.actions), ("Tasks", spec.tasks)]
        where !components.isEmpty {
            text += "\n\(title) (\(components.count)):\n"
            for component in components {
                text += "└── \(component.name) (\(component.description ?? ""))\n"
            }
        }
        return text
    }

    /// A start message for a step with sample input and connection, as the runtime's `sample` prints.
    public static func sample(_ plugin: Plugin, name: String) -> V1Message? {
        let connection = SampleGenerator.sample(plugin.connectionSchema)
        if plugin.spec.task(named: name) != nil {
            return StepStart(
                step: .task(name), input: SampleGenerator.sample(plugin.schema("tasks", name, "input")),
                connection: connection, meta: [:], state: SampleGenerator.sample(plugin.schema("tasks", name, "state"))
            ).message
        }
        if plugin.spec.trigger(named: name) != nil {
            return StepStart(
                step: .trigger(name), input: SampleGenerator.sample(plugin.schema("triggers", name, "input")),
                connection: connection, meta: [:], dispatcherURL: "http://localhost:8000", webhookURL: ""
            ).message
        }
        if plugin.spec.action(named: name) != nil {
            return StepStart(
                step: .action(name), input: SampleGenerator.sample(plugin.schema("actions", name, "input")),
                connection: connection, meta: [:]
            ).message
        }
        return nil
    }

    private static func printUsage(_ plugin: Plugin) {
        let usage = """
            usage: \(plugin.name) {run,test,info,sample,http} [--debug]

            \(plugin.spec.description ?? "")

              run            Run a step: one v1 start message on stdin, the event on stdout.
              test           Run the connection test for the v1 message on stdin.
              info           Describe the plugin.
              sample NAME    Print a sample start message for an action, trigger or task.
              http           Serve the runtime's HTTP API (--port N, default 10001; --host H, default 127.0.0.1).

            """
        FileHandle.standardError.write(Data(usage.utf8))
    }
}
