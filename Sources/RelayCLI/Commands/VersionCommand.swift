import ArgumentParser
import RelayBench
import RelayKafka

/// `relay version`: Relay's version and the versions of the libraries it is linked against.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print Relay's version, the linked librdkafka version and the allocator.")

    func run() throws {
        print("relay \(RelayVersion.string)")
        print("librdkafka \(Librdkafka.version)")
        print("allocator \(ProcessAllocator.description)")
    }
}
